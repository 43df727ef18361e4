"""Search data that is not a pickle for pickles hidden inside it.

A loader can be pointed at any offset of a file, so a pickle after a PNG header, in the
middle of a text file, or after the storages of a legacy PyTorch file is as dangerous
as one at offset 0. Candidates are found with a regular expression (C speed) and
each is executed speculatively; only pickles that would call something outside the
allowlist are reported, so random bytes and word lists that happen to look like opcodes
stay quiet.
"""

from __future__ import annotations

import io
import re

from bastion.errors import LimitExceeded, ScanError
from bastion.models import Location, Severity
from bastion.scan._context import ScanContext
from bastion.scan._pickle_loop import run_one
from bastion.scan._pickle_sink import PickleSink
from bastion.scan._pickle_vm import Machine, Reader, Truncated

WINDOW = 8 << 20
LOOKAHEAD = 1 << 20
MAX_REPORTED = 20
BUDGET_FLOOR = 8 << 20
BUDGET_FACTOR = 1
SLICES = (4096, 256 << 10)

#: PROTO, or a protocol 0 GLOBAL/INST with two identifier lines.
CANDIDATE = re.compile(rb"\x80[\x00-\x05]|[ci][A-Za-z_][\w.]{0,200}\n[A-Za-z_][\w.]{0,200}\n")


def search_embedded(reader: Reader, location: Location, ctx: ScanContext) -> None:
    """Scan from the reader's position to the end of its stream.

    Speculative runs are budgeted: data crafted so that every byte starts a long
    valid-looking run would otherwise cost quadratic time. Past the budget the search
    stops with an error, never with a clean result.
    """
    reported = 0
    spent = 0
    examined = 0
    pos = reader.pos
    while reported < MAX_REPORTED:
        pos = reader.fill(pos, WINDOW + LOOKAHEAD)
        data = reader.buf
        if pos >= len(data):
            return
        limit = len(data) if reader.eof else len(data) - LOOKAHEAD
        base = reader.base
        skip_to = 0
        examined += limit - pos
        for match in CANDIDATE.finditer(data, pos, limit):
            if match.start() < skip_to:
                continue  # inside a pickle already reported
            end, progress = _try(data, match.start(), base, location, ctx)
            spent += progress
            if spent > BUDGET_FLOOR + BUDGET_FACTOR * examined:
                raise LimitExceeded(
                    f"too many pickle-like fragments to search near offset {base + match.start()}"
                )
            if end is not None:
                skip_to = end
                reported += 1
                if reported >= MAX_REPORTED:
                    return
        if reader.eof:
            return
        pos = limit


def _try(
    data: bytes, start: int, base: int, location: Location, ctx: ScanContext
) -> tuple[int | None, int]:
    """Speculatively run the pickle at ``start``; report it and return where it ends
    (None when nothing was reported) and how many bytes the run parsed.

    The run sees a short slice first (random bytes fail within a few opcodes), then a
    longer one if it is still going; a candidate longer than that is judged on what it
    did within it.
    """
    for size in SLICES:
        piece = data[start : start + size]
        sink, machine, outcome = _run(piece, base + start, location, ctx)
        if outcome != "cut" or len(piece) < size:
            break
    complete = outcome == "stop"
    # Only a call does harm, and text is full of lines that read as GLOBAL opcodes
    # ("cat\ndog\n"): report a candidate that calls something outside the allowlist,
    # and, when it does not parse to its end, only if what it calls is known-dangerous.
    risky = [
        (key, use)
        for key, use in sink.imports.items()
        if use.called
        and not ctx.policy.decide(*key).allowed
        and (complete or ctx.policy.decide(*key).severity is not None)
    ]
    if not risky:
        return None, machine.progress
    findings = sink.flush()
    ctx.finding(
        "pickle.embedded",
        Severity.HIGH,
        f"a pickle is hidden at offset {base + start} inside other data"
        + ("" if complete else " (it does not parse to its end, but would run before failing)"),
        location.at(base + start),
        imports=", ".join(f"{m}.{n}" for (m, n), _ in risky),
    )
    for finding in findings:
        ctx.add(finding)
    return (start + machine.progress + 1 if complete else start + 1), machine.progress


def _run(
    piece: bytes, offset: int, location: Location, ctx: ScanContext
) -> tuple[PickleSink, Machine, str]:
    reader = Reader(io.BytesIO(), piece)
    reader.base = offset
    reader.eof = True
    sink = PickleSink(ctx.policy, location)
    machine = Machine(reader, sink, max_memo=10_000, max_stack=100_000, lenient=True)
    sink.machine = machine
    try:
        run_one(machine)
    except Truncated:
        return sink, machine, "cut"
    except ScanError:
        return sink, machine, "bad"
    return sink, machine, "stop"
