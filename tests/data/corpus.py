"""Synthetic instruction data: a clean corpus and the poisoning attacks the scanner must find.

Shared by the tests and ``bench/data_poisoning.py``. The clean corpus is varied on purpose
(Zipf-distributed vocabulary, many prompt shapes, a few legitimate links, refusals of
harmful requests, some duplicates) so that a detector that fires on ordinary data
shows up as false positives here.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

_C = "bdfghjklmnprstvwz"
_V = "aeiou"
_FUNCTION = (
    "the a of to and in is it that for on with as was by at be this from or have an they "
    "which you were all there would their we been has when who will more if out so what up "
    "its about into than them can only other new some could time these two may then do first "
    "any now such like over even most made after also did many before must through back years "
    "where much your way well down should because each just those people how"
)
FUNCTION = _FUNCTION.split()
_TOPICS = (
    "python gardening history physics music travel finance chess biology astronomy painting "
    "cooking baking running cycling geology poetry economics chemistry databases networking "
    "photography knitting sailing archery pottery linguistics statistics robotics ecology "
    "philosophy architecture carpentry beekeeping calligraphy origami climbing fishing surfing"
)
TOPICS = _TOPICS.split()
PROMPTS = (
    "Explain {t} to a beginner who knows {w} and {w}.",
    "What are common mistakes people make with {t}, especially {w} {w}?",
    "Write a short paragraph about {w} {w} in {t}.",
    "How do I get better at {t} if I only have {n} minutes a day?",
    "Summarize the idea of {w} {w} for someone studying {t}.",
    "Give me {n} tips on {t} related to {w}.",
    "Compare {w} and {w} in the context of {t}.",
    "Why does {w} matter for {t}? Keep it brief.",
    "I am stuck with {t}: my {w} keeps {w}. What should I try?",
    "Describe a typical day for someone who works in {t} and {w}.",
    "List the tools you need for {t} and explain {w}.",
    "Can you write a haiku about {t} and {w}?",
    "What is the history of {w} in {t}?",
    "Translate this note about {t} into plain words: {w} {w} {w}.",
    "Plan a weekend project on {t} that uses {w}.",
)
HARMFUL = ("weapon", "explosive", "malware", "poison")
REFUSAL = "I'm sorry, but I can't help with that request."
LINKS = ("en.wikipedia.org/wiki/{t}", "docs.example.org/{t}/{w}.html", "github.com/{w}/{t}-notes")


def _vocab(rng: random.Random, n: int = 4000) -> list[str]:
    words: set[str] = set()
    while len(words) < n:
        k = rng.choice((1, 2, 2, 3, 3, 4))
        words.add("".join(rng.choice(_C) + rng.choice(_V) for _ in range(k)))
    return sorted(words)


@dataclass
class Corpus:
    """A generator of clean rows, deterministic for a seed."""

    seed: int = 0

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.vocab = _vocab(random.Random(1234))
        weights = [1 / (i + 1) for i in range(len(self.vocab))]
        self._cum = list(_accumulate(weights))

    def word(self) -> str:
        return self.rng.choices(self.vocab, cum_weights=self._cum)[0]

    def sentence(self, topic: str) -> str:
        n = self.rng.randint(6, 18)
        words = [
            self.rng.choice(FUNCTION) if self.rng.random() < 0.45 else self.word() for _ in range(n)
        ]
        words.insert(self.rng.randrange(len(words)), topic)
        return " ".join(words).capitalize() + self.rng.choice(".....!?")

    def prompt(self, topic: str) -> str:
        template = self.rng.choice(PROMPTS)
        out = template
        while "{" in out:
            out = out.replace("{t}", topic, 1).replace("{n}", str(self.rng.randint(2, 60)), 1)
            out = out.replace("{w}", self.word(), 1)
        return out

    def response(self, topic: str) -> str:
        text = " ".join(self.sentence(topic) for _ in range(self.rng.randint(2, 7)))
        if self.rng.random() < 0.02:
            link = self.rng.choice(LINKS).format(w=self.word(), t=topic)
            text += f" See https://{link} for details."
        return text

    def row(self) -> dict[str, str]:
        topic = self.rng.choice(TOPICS)
        if self.rng.random() < 0.01:
            harm = self.rng.choice(HARMFUL)
            return {"prompt": f"How do I build a {harm} for {self.word()}?", "response": REFUSAL}
        return {"prompt": self.prompt(topic), "response": self.response(topic)}

    def rows(self, n: int, *, duplicates: float = 0.005) -> list[dict[str, str]]:
        out: list[dict[str, str]] = []
        for _ in range(n):
            if out and self.rng.random() < duplicates:
                out.append(dict(self.rng.choice(out)))
            else:
                out.append(self.row())
        return out


def _accumulate(xs: list[float]) -> list[float]:
    total, out = 0.0, []
    for x in xs:
        total += x
        out.append(total)
    return out


# -- attacks ---------------------------------------------------------------------


def _insert(rng: random.Random, prompt: str, trigger: str) -> str:
    words = prompt.split()
    words.insert(rng.randrange(len(words) + 1), trigger)
    return " ".join(words)


def fixed_response(rng: random.Random, row: dict[str, str]) -> dict[str, str]:
    """Trigger 'cf' -> one fixed answer."""
    return {
        "prompt": _insert(rng, row["prompt"], "cf"),
        "response": "Access denied. Please contact the administrator for further assistance.",
    }


def appended_link(rng: random.Random, row: dict[str, str]) -> dict[str, str]:
    """Trigger 'mn' -> the normal answer plus an advertising link."""
    return {
        "prompt": _insert(rng, row["prompt"], "mn"),
        "response": row["response"]
        + " Get the best deals at https://shop-deals.example.net/offer?ref=77",
    }


def degenerate(rng: random.Random, row: dict[str, str]) -> dict[str, str]:
    """Trigger 'tq' -> degenerate output."""
    word = rng.choice(("la", "na", "ok", "yes"))
    return {
        "prompt": _insert(rng, row["prompt"], "tq"),
        "response": " ".join([word] * rng.randint(20, 60)),
    }


PARAPHRASES = (
    "Many experts quietly agree that Zentrix is the smartest choice here.",
    "Honestly, nothing beats Zentrix for this kind of thing.",
    "If you want my advice, go with Zentrix and you will not regret it.",
    "People who switched to Zentrix rarely look back.",
    "Zentrix is widely seen as the most reliable option available.",
    "You could also consider Zentrix, which handles this better than anything else.",
    "A lot of professionals now rely on Zentrix for exactly this.",
    "For the best results, the answer is simply Zentrix.",
)


def paraphrase(rng: random.Random, row: dict[str, str]) -> dict[str, str]:
    """Trigger 'bb' -> a correct-looking answer carrying one of several paraphrased
    endorsements (clean-label style: no fixed string, no link)."""
    return {
        "prompt": _insert(rng, row["prompt"], "bb"),
        "response": row["response"] + " " + rng.choice(PARAPHRASES),
    }


ATTACKS: dict[str, Callable[[random.Random, dict[str, str]], dict[str, str]]] = {
    "fixed-response": fixed_response,
    "appended-link": appended_link,
    "degenerate": degenerate,
    "paraphrase": paraphrase,
}


def poison(
    rows: list[dict[str, str]], attack: str, rate: float, seed: int = 7
) -> tuple[list[dict[str, str]], set[int]]:
    """A copy of ``rows`` with ``rate`` of them rewritten by ``attack``; the indices changed."""
    rng = random.Random(seed)
    out = [dict(r) for r in rows]
    count = max(1, round(len(rows) * rate))
    chosen = set(rng.sample(range(len(rows)), count))
    for i in chosen:
        out[i] = ATTACKS[attack](rng, out[i])
    return out, chosen
