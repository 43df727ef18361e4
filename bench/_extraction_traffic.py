"""Simulated API traffic for bench/extraction.py: a query pool and users who draw from it.

The pool is public text read at run time: the docstrings of Python standard-library
modules (one topic per module; items are its public functions, classes and methods with the
first sentence of their docstring). A query is an item put in one of many phrasings, the
way people ask about an API. Users are generators of (time, text, params) tuples.
"""

from __future__ import annotations

import importlib
import inspect
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass

MODULES = [
    "argparse",
    "asyncio",
    "base64",
    "bisect",
    "calendar",
    "collections",
    "concurrent.futures",
    "configparser",
    "contextlib",
    "copy",
    "csv",
    "dataclasses",
    "datetime",
    "decimal",
    "difflib",
    "email",
    "enum",
    "fileinput",
    "fnmatch",
    "fractions",
    "ftplib",
    "functools",
    "gettext",
    "glob",
    "gzip",
    "hashlib",
    "heapq",
    "hmac",
    "html.parser",
    "http.client",
    "imaplib",
    "importlib",
    "inspect",
    "io",
    "ipaddress",
    "itertools",
    "json",
    "locale",
    "logging",
    "lzma",
    "mailbox",
    "math",
    "mimetypes",
    "multiprocessing",
    "operator",
    "os",
    "os.path",
    "pathlib",
    "pickle",
    "platform",
    "plistlib",
    "poplib",
    "pprint",
    "queue",
    "random",
    "re",
    "sched",
    "secrets",
    "selectors",
    "shelve",
    "shlex",
    "shutil",
    "signal",
    "smtplib",
    "socket",
    "sqlite3",
    "ssl",
    "statistics",
    "string",
    "struct",
    "subprocess",
    "tarfile",
    "tempfile",
    "textwrap",
    "threading",
    "time",
    "timeit",
    "tkinter.ttk",
    "tokenize",
    "traceback",
    "types",
    "typing",
    "unittest",
    "urllib.parse",
    "urllib.request",
    "uuid",
    "warnings",
    "weakref",
    "xml.etree.ElementTree",
    "zipfile",
    "zlib",
]

PHRASINGS = (
    "What does {q} do?",
    "How do I use {q} in Python?",
    "Can you show me an example of {q}?",
    "Explain {q} to me like I'm new to Python.",
    "{S} How does that work in {m}?",
    "In the {m} module, what is {q} for?",
    "I read that {q}: {s} What does that mean in practice?",
    "When should I use {q} instead of writing it myself?",
    "Is {q} thread-safe, and what are its pitfalls?",
    "Give me a short code sample that calls {q}.",
    "why does {q} behave like this: {s}",
    "{S}",
    "Help! my code using {q} fails, what am I doing wrong?",
    "What's the difference between {q} and the other tools in {m}?",
)

BATCH_TEMPLATES = (
    "Rewrite this documentation sentence in plain English for a beginner: {s}",
    "Translate the following text into French, keeping code names unchanged:\n\n{s}",
    "Classify the following sentence as 'io', 'math', 'text' or 'other'. Sentence: {s}\nLabel:",
    "Write one unit-test idea for the behaviour described here: {s}",
)


@dataclass(frozen=True, slots=True)
class Item:
    module: str
    name: str
    sentence: str


def _first_sentence(doc: str) -> str:
    text = " ".join(doc.strip().split())
    m = re.match(r"(.{20,200}?[.!?])(\s|$)", text)
    return m.group(1) if m else text[:200]


def build_pool(min_items: int = 12) -> dict[str, list[Item]]:
    """Topic (module name) -> items, from the docstrings of the standard library."""
    pool: dict[str, list[Item]] = {}
    for name in MODULES:
        try:
            mod = importlib.import_module(name)
        except Exception:  # noqa: S112 - a module this Python lacks is skipped
            continue
        items: list[Item] = []
        for attr, obj in sorted(vars(mod).items()):
            if attr.startswith("_") or getattr(obj, "__module__", name) not in (name, None):
                continue
            doc = inspect.getdoc(obj) if callable(obj) else None
            if doc and len(doc) > 20:
                items.append(Item(name, f"{name}.{attr}", _first_sentence(doc)))
                if inspect.isclass(obj):
                    for meth, fn in sorted(vars(obj).items()):
                        mdoc = inspect.getdoc(fn) if callable(fn) else None
                        if not meth.startswith("_") and mdoc and len(mdoc) > 20:
                            items.append(Item(name, f"{name}.{attr}.{meth}", _first_sentence(mdoc)))
        if len(items) >= min_items:
            pool[name] = items
    return pool


def phrase(rng: random.Random, item: Item, template: str | None = None) -> str:
    t = template or rng.choice(PHRASINGS)
    s = item.sentence
    text = t.format(q=item.name, m=item.module, s=s[:1].lower() + s[1:], S=s)
    if rng.random() < 0.05:  # a typo now and then
        i = rng.randrange(len(text))
        text = text[:i] + text[i + 1 :]
    return text


def perturb(rng: random.Random, text: str) -> str:
    """One to three small edits: drop, duplicate or swap a word, or a character typo."""
    words = text.split()
    for _ in range(rng.randint(1, 3)):
        if len(words) < 3:
            break
        i = rng.randrange(len(words))
        op = rng.random()
        if op < 0.25:
            del words[i]
        elif op < 0.5:
            words.insert(i, words[i])
        elif op < 0.75:
            j = rng.randrange(len(words))
            words[i], words[j] = words[j], words[i]
        else:
            w = words[i]
            k = rng.randrange(len(w))
            words[i] = w[:k] + rng.choice("aeiourst") + w[k + 1 :]
    return " ".join(words)


Query = tuple[float, str, dict[str, object]]


class Sim:
    def __init__(self, pool: dict[str, list[Item]], seed: int) -> None:
        self.pool = pool
        self.topics = sorted(pool)
        self.rng = random.Random(seed)

    def _times(self, day: int, n: int) -> list[float]:
        start = day * 86400 + self.rng.uniform(7, 10) * 3600
        span = self.rng.uniform(2, 10) * 3600
        return sorted(start + self.rng.uniform(0, span) for _ in range(n))

    def _item(self, topic: str) -> Item:
        return self.rng.choice(self.pool[topic])

    # -- benign -------------------------------------------------------------------------
    def focused(self, days: int) -> Iterator[Query]:
        topics = self.rng.sample(self.topics, self.rng.randint(1, 2))
        last = ""
        for day in range(days):
            for t in self._times(day, self.rng.randint(15, 80)):
                if last and self.rng.random() < 0.08:  # asks again, reworded a little
                    text = perturb(self.rng, last)
                else:
                    text = phrase(self.rng, self._item(self.rng.choice(topics)))
                last = text
                yield t, text, {}

    def exploratory(self, days: int) -> Iterator[Query]:
        interests = self.rng.sample(self.topics, 8)
        for day in range(days):
            topic = self.rng.choice(interests)
            for t in self._times(day, self.rng.randint(30, 100)):
                if self.rng.random() < 0.15:  # a new session on another topic
                    topic = self.rng.choice(interests)
                yield t, phrase(self.rng, self._item(topic)), {}

    def batch(self, days: int) -> Iterator[Query]:
        template = self.rng.choice(BATCH_TEMPLATES)
        topics = self.rng.sample(self.topics, self.rng.randint(1, 3))
        params: dict[str, object] = {"logprobs": True, "top_logprobs": 3} if "Label" in template \
            else {}  # fmt: skip
        for day in range(days):
            for t in self._times(day, self.rng.randint(150, 400)):
                item = self._item(self.rng.choice(topics))
                yield t, template.format(s=item.sentence), params

    def heavy(self, days: int) -> Iterator[Query]:
        topics = self.rng.sample(self.topics, 5)
        params: dict[str, object] = {"n": 3} if self.rng.random() < 0.3 else {}
        topic = topics[0]
        for day in range(days):
            for t in self._times(day, self.rng.randint(300, 1000)):
                if self.rng.random() < 0.05:
                    topic = self.rng.choice(topics)
                yield t, phrase(self.rng, self._item(topic)), params

    # -- attackers ----------------------------------------------------------------------
    def _uniform_text(self) -> str:
        return phrase(self.rng, self._item(self.rng.choice(self.topics)))

    def uniform(self, n: int, per_day: int = 2000) -> Iterator[Query]:
        for i in range(n):
            yield i * 86400 / per_day, self._uniform_text(), {}

    def mixed(self, n: int) -> Iterator[Query]:
        home = self.rng.choice(self.topics)
        for i in range(n):
            text = self._uniform_text() if self.rng.random() < 0.5 else phrase(
                self.rng, self._item(home))  # fmt: skip
            yield i * 40.0, text, {}

    def perturbation(self, n: int) -> Iterator[Query]:
        seeds = [self._uniform_text() for _ in range(self.rng.randint(10, 40))]
        for i in range(n):
            yield i * 30.0, perturb(self.rng, self.rng.choice(seeds)), {}

    def enumeration(self, n: int) -> Iterator[Query]:
        template = self.rng.choice(PHRASINGS[:4])
        items = [it for topic in self.topics for it in self.pool[topic]]
        start = self.rng.randrange(len(items))
        for i in range(n):
            yield i * 10.0, phrase(self.rng, items[(start + i * 7) % len(items)], template), {
                "logprobs": True, "top_logprobs": 5}  # fmt: skip

    def shuffled(self, n: int) -> Iterator[Query]:
        """Enumeration over the same list in a random order (each item once)."""
        template = self.rng.choice(PHRASINGS[:4])
        items = [it for topic in self.topics for it in self.pool[topic]]
        for i, item in enumerate(self.rng.sample(items, min(n, len(items)))):
            yield i * 10.0, phrase(self.rng, item, template), {"logprobs": True,
                                                               "top_logprobs": 5}  # fmt: skip

    def rotating(self, n: int) -> Iterator[Query]:
        """Enumeration over the list in a random order, each query in one of four other
        phrasings picked at random, without log-probabilities."""
        phrasings = (PHRASINGS[7], PHRASINGS[8], PHRASINGS[9], PHRASINGS[12])
        items = [it for topic in self.topics for it in self.pool[topic]]
        for i, item in enumerate(self.rng.sample(items, min(n, len(items)))):
            yield i * 10.0, phrase(self.rng, item, self.rng.choice(phrasings)), {}

    def slow(self, n: int) -> Iterator[Query]:
        """Under every rate limit: 40 queries a day, spread over the day."""
        return self.uniform(n, per_day=40)
