"""Search data that is not a pickle for pickles hidden inside it.

A loader can be pointed at any offset of a file, so a pickle after a PNG header, in the
middle of a text file, or after the storages of a legacy PyTorch file is as dangerous
as one at offset 0. Candidates are found with a regular expression (C speed) and
each is executed speculatively; only pickles that would import something outside the
allowlist are reported, so random bytes that happen to look like opcodes stay quiet.
"""

from __future__ import annotations

import io
import re

from bastion.errors import ScanError
from bastion.models import Location, Severity
from bastion.scan._context import ScanContext
from bastion.scan._pickle_loop import run_one
from bastion.scan._pickle_sink import PickleSink
from bastion.scan._pickle_vm import Machine, Reader

WINDOW = 8 << 20
LOOKAHEAD = 1 << 20
MAX_REPORTED = 20

#: PROTO, or a protocol 0 GLOBAL/INST with two identifier lines.
CANDIDATE = re.compile(rb"\x80[\x00-\x05]|[ci][A-Za-z_][\w.]{0,200}\n[A-Za-z_][\w.]{0,200}\n")


def search_embedded(reader: Reader, location: Location, ctx: ScanContext) -> None:
    """Scan from the reader's position to the end of its stream."""
    reported = 0
    pos = reader.pos
    while reported < MAX_REPORTED:
        pos = reader.fill(pos, WINDOW + LOOKAHEAD)
        data = reader.buf
        if pos >= len(data):
            return
        limit = len(data) if reader.eof else len(data) - LOOKAHEAD
        base = reader.base
        skip_to = 0
        for match in CANDIDATE.finditer(data, pos, limit):
            if match.start() < skip_to:
                continue  # inside a pickle already reported
            end = _try(data, match.start(), base, location, ctx)
            if end is not None:
                skip_to = end
                reported += 1
                if reported >= MAX_REPORTED:
                    return
        if reader.eof:
            return
        pos = limit


def _try(data: bytes, start: int, base: int, location: Location, ctx: ScanContext) -> int | None:
    """Speculatively run the pickle at ``start``; report it and return where it ends."""
    reader = Reader(io.BytesIO(), data)
    reader.pos = start
    reader.base = base
    reader.eof = True
    sink = PickleSink(ctx.policy, location)
    machine = Machine(reader, sink, max_memo=10_000, max_stack=100_000, lenient=True)
    sink.machine = machine
    complete = True
    try:
        run_one(machine)
    except ScanError:
        complete = False
    risky = [
        (key, use)
        for key, use in sink.imports.items()
        if not ctx.policy.decide(*key).allowed
        and (complete or use.called or ctx.policy.decide(*key).severity is not None)
    ]
    if not risky:
        return None
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
    return reader.pos if complete else start + 1
