"""Small query streams for the detector tests: topics are standard-library modules."""

from __future__ import annotations

import importlib
import inspect
import random

MODULES = ("json", "csv", "math", "os", "pathlib", "random", "re", "socket", "ssl", "string",
           "textwrap", "threading", "zipfile", "gzip", "hashlib", "heapq", "itertools",
           "functools", "logging", "shutil", "statistics", "struct", "subprocess", "tarfile",
           "tempfile", "time", "datetime", "decimal", "fractions", "email")  # fmt: skip

PHRASINGS = (
    "What does {q} do?",
    "How do I use {q} in Python?",
    "Can you show me an example of {q}?",
    "{s} How does that work?",
    "Is {q} thread-safe, and what are its pitfalls?",
    "Give me a short code sample that calls {q}.",
)


def pool() -> dict[str, list[tuple[str, str]]]:
    out: dict[str, list[tuple[str, str]]] = {}
    for name in MODULES:
        mod = importlib.import_module(name)
        items = []
        for attr, obj in sorted(vars(mod).items()):
            doc = inspect.getdoc(obj) if callable(obj) and not attr.startswith("_") else None
            if doc and len(doc) > 20:
                items.append((f"{name}.{attr}", doc.split("\n")[0][:150]))
        out[name] = items
    return out


POOL = pool()


def ask(rng: random.Random, topic: str) -> str:
    q, s = rng.choice(POOL[topic])
    return rng.choice(PHRASINGS).format(q=q, s=s)


def focused(rng: random.Random, n: int, topic: str = "json") -> list[str]:
    return [ask(rng, topic) for _ in range(n)]


def uniform(rng: random.Random, n: int) -> list[str]:
    return [ask(rng, rng.choice(MODULES)) for _ in range(n)]


def perturbed(rng: random.Random, n: int, seeds: int = 4) -> list[str]:
    """Edits of a few seed prompts: words swapped and repeated."""
    base = uniform(rng, seeds)
    out = []
    for _ in range(n):
        words = rng.choice(base).split()
        i, j = rng.randrange(len(words)), rng.randrange(len(words))
        words[i], words[j] = words[j], words[i]
        words.insert(i, words[i])
        out.append(" ".join(words))
    return out
