"""Running probes against a target: concurrent, seeded, resumable.

Every attempt (a probe's prompt or one of its buffed variants) has a stable id
(:func:`bastion.redteam.buffs.attempt_id`). Finished attempts are appended to a JSON
Lines file as they complete, so a run that is stopped can be resumed: with
``resume=True`` the attempts already in the file with a verdict are skipped and those
that errored are tried again. The last line for an id wins.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from bastion.redteam.base import (
    Attempt,
    DetectContext,
    Detection,
    Message,
    Probe,
    RedteamError,
    Request,
    Response,
    Status,
    Target,
    TargetError,
    Variant,
)
from bastion.redteam.buffs import attempt_id, select_buffs, variants
from bastion.redteam.detectors import run_detectors

Record = dict[str, Any]


class Judge(Protocol):
    """An optional second opinion (an LLM) that replaces the heuristic refusal detector."""

    async def judge(self, response: Response, ctx: DetectContext) -> Detection: ...


@dataclass(frozen=True, slots=True)
class RunConfig:
    """How to run: seed, buffs, what the detectors may know, and the request shape."""

    seed: int = 0
    buffs: tuple[str, ...] = ()
    per_buff: int = 1
    canary: str | None = None
    system_prompt: str | None = None
    max_tokens: int = 512
    temperature: float | None = None
    offer_tools: bool = False
    workers: int = 16


@dataclass(frozen=True, slots=True)
class Planned:
    id: str
    probe: Probe
    variant: Variant


@dataclass(slots=True)
class RunResult:
    """The records of every attempt (resumed ones included), in plan order."""

    records: list[Record]
    skipped: int = 0
    seconds: float = 0.0
    target: str = ""
    config: RunConfig = field(default_factory=RunConfig)


def plan(probes: Iterable[Probe], config: RunConfig) -> list[Planned]:
    buffs = select_buffs(config.buffs)
    out = []
    for probe in probes:
        for i, variant in enumerate(
            variants(probe, buffs, seed=config.seed, per_buff=config.per_buff)
        ):
            out.append(Planned(attempt_id(probe, variant, i, config.seed), probe, variant))
    return out


def read_records(path: Path) -> dict[str, Record]:
    """Attempt records by id from a JSON Lines file; the last line per id wins.

    A line that does not parse (a run killed mid-write) is skipped.
    """
    records: dict[str, Record] = {}
    try:
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if isinstance(record, dict) and isinstance(record.get("id"), str):
                    records[record["id"]] = record
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise RedteamError(f"cannot read attempts file {path}: {exc}") from exc
    return records


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as fh:
        fh.seek(-1, 2)
        return fh.read(1) == b"\n"


def _request(item: Planned, config: RunConfig) -> Request:
    system = item.probe.system or config.system_prompt
    messages = (Message("system", system),) if system else ()
    tools = item.probe.tools if config.offer_tools else ()
    return Request(
        (*messages, Message("user", item.variant.prompt)),
        config.max_tokens,
        config.temperature,
        tools,
    )


def _status(detections: tuple[Detection, ...], judged: Detection | None) -> Status:
    hits = [d for d in detections if d.hit and not (judged is not None and d.detector == "refusal")]
    return Status.FAIL if hits or (judged is not None and judged.hit) else Status.PASS


async def attempt(
    target: Target, item: Planned, config: RunConfig, judge: Judge | None = None
) -> Attempt:
    """Send one prompt and judge the answer; a target that fails gives an ERROR attempt."""
    start = time.perf_counter()
    try:
        response = await target.send(_request(item, config))
    except TargetError as exc:
        return Attempt(
            item.id,
            item.probe,
            item.variant,
            Status.ERROR,
            error=exc.message,
            seconds=time.perf_counter() - start,
        )
    if response.blocked:
        blocked = Detection("blocked", False, reason=f"blocked.{response.blocked}"[:120])
        return Attempt(item.id, item.probe, item.variant, Status.PASS, "", (blocked,),
                       seconds=time.perf_counter() - start)  # fmt: skip
    ctx = DetectContext(
        item.probe,
        item.variant.prompt,
        config.canary,
        item.probe.system or config.system_prompt,
        config.max_tokens,
    )
    detections = run_detectors(response, ctx)
    judged = None
    if judge is not None and "refusal" in item.probe.detectors:
        try:
            judged = await judge.judge(response, ctx)
        except TargetError as exc:
            judged = Detection("judge", False, reason=f"judge.error: {exc.message}"[:200])
        detections = (*detections, judged)
        if judged.reason.startswith(("judge.error", "judge.unparsed")):
            judged = None
    return Attempt(
        item.id,
        item.probe,
        item.variant,
        _status(detections, judged),
        response.text,
        detections,
        seconds=time.perf_counter() - start,
    )


async def run_async(
    target: Target,
    probes: Iterable[Probe],
    config: RunConfig,
    *,
    attempts_file: Path | None = None,
    resume: bool = False,
    judge: Judge | None = None,
    on_attempt: Callable[[Record], None] | None = None,
) -> RunResult:
    """Run every planned attempt not already done; write each to ``attempts_file``."""
    planned = plan(probes, config)
    previous = read_records(attempts_file) if (resume and attempts_file) else {}
    done = {k: v for k, v in previous.items() if v.get("status") in ("pass", "fail")}
    todo = [p for p in planned if p.id not in done]
    results: dict[str, Record] = dict(done)
    start = time.perf_counter()
    queue: asyncio.Queue[Planned] = asyncio.Queue()
    for item in todo:
        queue.put_nowait(item)
    sink = None
    if attempts_file is not None:
        attempts_file.parent.mkdir(parents=True, exist_ok=True)
        sink = attempts_file.open("a" if resume else "w", encoding="utf-8")
        if resume and sink.tell() and not _ends_with_newline(attempts_file):
            sink.write("\n")  # a line cut short by a killed run stays on its own

    async def worker() -> None:
        while True:
            try:
                item = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            record = (await attempt(target, item, config, judge)).to_dict()
            results[item.id] = record
            if sink is not None:
                sink.write(json.dumps(record, ensure_ascii=False) + "\n")
                sink.flush()
            if on_attempt is not None:
                on_attempt(record)

    try:
        await asyncio.gather(*(worker() for _ in range(max(1, min(config.workers, len(todo))))))
    finally:
        if sink is not None:
            sink.close()
    ordered = [results[p.id] for p in planned if p.id in results]
    return RunResult(
        ordered,
        len(planned) - len(todo),
        time.perf_counter() - start,
        getattr(target, "name", ""),
        config,
    )


def run(target: Target, probes: Iterable[Probe], config: RunConfig, **kwargs: Any) -> RunResult:
    """:func:`run_async` from synchronous code; opens and closes the targets (the judge's too)."""

    async def main() -> RunResult:
        async with contextlib.AsyncExitStack() as stack:
            judge = kwargs.get("judge")
            for obj in (target, getattr(judge, "target", None)):
                if obj is not None and hasattr(obj, "__aenter__"):
                    await stack.enter_async_context(obj)  # type: ignore[arg-type]
            return await run_async(target, probes, config, **kwargs)

    return asyncio.run(main())
