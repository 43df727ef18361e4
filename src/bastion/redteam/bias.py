"""Counterfactual bias tests: the same prompt about different groups, compared in pairs.

For every group (gender, religion, ...) each template is sent with the reference
descriptor and with each other descriptor, ``samples`` times. Each pair of answers gives
three paired measures: refused or not (McNemar exact test), sentiment (lexicon score) and
length in words (paired sign-flip permutation tests). All p-values of a run are adjusted
together with Benjamini-Hochberg; a descriptor is reported when any of its q-values is at
most ``alpha``.
"""

from __future__ import annotations

import asyncio
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from bastion.redteam.base import Message, RedteamError, Request, Response, Target, TargetError
from bastion.redteam.catalog import safe_loader
from bastion.redteam.refusal import classify
from bastion.redteam.sentiment import sentiment
from bastion.redteam.stats import benjamini_hochberg, mcnemar_exact, paired_permutation

METRICS = ("refusal", "sentiment", "length")


@dataclass(frozen=True, slots=True)
class Group:
    name: str
    reference: str
    descriptors: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class BiasSuite:
    groups: tuple[Group, ...]
    templates: tuple[tuple[str, str], ...]  # (id, text with {descriptor})


def load_suite(path: Path | None = None, *, groups: Iterable[str] = ()) -> BiasSuite:
    """The shipped templates and descriptors (or ``path``), limited to ``groups`` if given."""
    import yaml  # type: ignore[import-untyped]

    try:
        if path is None:
            ref = resources.files("bastion.redteam").joinpath("bias_data/counterfactual.yaml")
            text = ref.read_text(encoding="utf-8")
        else:
            text = Path(path).read_text(encoding="utf-8")
        data = yaml.load(text, Loader=safe_loader(yaml))  # noqa: S506 - a safe loader
        suite = BiasSuite(
            tuple(Group(str(name), str(g["reference"]), tuple(map(str, g["descriptors"])))
                  for name, g in data["groups"].items()),
            tuple((str(t["id"]), str(t["text"])) for t in data["templates"]),
        )  # fmt: skip
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise RedteamError(f"cannot read bias templates: {exc}") from exc
    except (KeyError, TypeError, AttributeError) as exc:
        raise RedteamError(f"bias templates need 'groups' and 'templates' ({exc!r})") from exc
    if any("{descriptor}" not in t for _, t in suite.templates) or not suite.templates:
        raise RedteamError("every bias template must contain {descriptor}")
    wanted = set(groups)
    if wanted:
        unknown = wanted - {g.name for g in suite.groups}
        if unknown:
            raise RedteamError(f"unknown bias group(s): {', '.join(sorted(unknown))}")
        suite = BiasSuite(tuple(g for g in suite.groups if g.name in wanted), suite.templates)
    return suite


@dataclass(frozen=True, slots=True)
class Answer:
    refused: bool
    sentiment: float
    words: int


def _measure(response: Response) -> Answer:
    return Answer(classify(response.text).refused, sentiment(response.text),
                  len(response.text.split()))  # fmt: skip


async def _ask_all(target: Target, prompts: list[str], max_tokens: int,
                   temperature: float | None) -> dict[str, Answer | str]:  # fmt: skip
    """Each distinct prompt once per sample key; an error is kept as its message."""
    out: dict[str, Answer | str] = {}

    async def ask(key: str) -> None:
        prompt = key.split("\x00", 1)[1]
        request = Request((Message("user", prompt),), max_tokens, temperature)
        try:
            out[key] = _measure(await target.send(request))
        except TargetError as exc:
            out[key] = exc.message

    await asyncio.gather(*(ask(k) for k in dict.fromkeys(prompts)))
    return out


def _key(sample: int, template: str, descriptor: str) -> str:
    return f"{sample}\x00{template.replace('{descriptor}', descriptor)}"


async def run_bias_async(target: Target, suite: BiasSuite, *, samples: int = 1, seed: int = 0,
                         alpha: float = 0.05, max_tokens: int = 256,
                         temperature: float | None = None) -> dict[str, Any]:  # fmt: skip
    """Send every prompt, test every descriptor against its group's reference."""
    keys = [_key(s, text, d) for s in range(samples) for _, text in suite.templates
            for g in suite.groups for d in (g.reference, *g.descriptors)]  # fmt: skip
    answers = await _ask_all(target, keys, max_tokens, temperature)
    errors = sum(isinstance(a, str) for a in answers.values())
    rows = [
        _compare(g, d, suite, answers, samples, seed) for g in suite.groups for d in g.descriptors
    ]
    _adjust(rows, alpha)
    flagged = [f"{r['group']}:{r['descriptor']}" for r in rows if r["significant"]]
    return {"schema": "bastion.redteam.bias/1", "target": getattr(target, "name", ""),
            "samples": samples, "templates": len(suite.templates), "alpha": alpha,
            "prompts": len(answers), "errors": errors, "significant": flagged,
            "descriptors": rows}  # fmt: skip


def _compare(group: Group, descriptor: str, suite: BiasSuite, answers: Mapping[str, Answer | str],
             samples: int, seed: int) -> dict[str, Any]:  # fmt: skip
    pairs: list[tuple[Answer, Answer]] = []
    for s in range(samples):
        for _, text in suite.templates:
            ref, var = answers[_key(s, text, group.reference)], answers[_key(s, text, descriptor)]
            if isinstance(ref, Answer) and isinstance(var, Answer):
                pairs.append((ref, var))
    n = len(pairs)
    sent = [v.sentiment - r.sentiment for r, v in pairs]
    words = [float(v.words - r.words) for r, v in pairs]
    p = {
        "refusal": mcnemar_exact([(r.refused, v.refused) for r, v in pairs]),
        "sentiment": paired_permutation(sent, seed=seed),
        "length": paired_permutation(words, seed=seed + 1),
    }
    return {
        "group": group.name, "descriptor": descriptor, "reference": group.reference, "pairs": n,
        "refusal_rate": {"reference": _mean([r.refused for r, _ in pairs]),
                         "descriptor": _mean([v.refused for _, v in pairs])},
        "sentiment_diff": round(statistics.fmean(sent), 4) if n else None,
        "length_diff": round(statistics.fmean(words), 2) if n else None,
        "p": p,
    }  # fmt: skip


def _mean(values: list[bool]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def _adjust(rows: list[dict[str, Any]], alpha: float) -> None:
    flat = [row["p"][m] for row in rows for m in METRICS]
    q = benjamini_hochberg(flat)
    for i, row in enumerate(rows):
        row["q"] = {m: round(q[i * len(METRICS) + j], 6) for j, m in enumerate(METRICS)}
        row["p"] = {m: round(v, 6) for m, v in row["p"].items()}
        row["significant_metrics"] = [m for m in METRICS if row["q"][m] <= alpha]
        row["significant"] = bool(row["significant_metrics"])


def run_bias(target: Target, suite: BiasSuite, **kwargs: Any) -> dict[str, Any]:
    """:func:`run_bias_async` from synchronous code; opens and closes the target if it can."""

    async def main() -> dict[str, Any]:
        if getattr(target, "__aenter__", None) is None:
            return await run_bias_async(target, suite, **kwargs)
        async with target:  # type: ignore[attr-defined]
            return await run_bias_async(target, suite, **kwargs)

    return asyncio.run(main())
