"""The canonical bytes of a log entry: what is hashed into the tree.

An entry is stable JSON (UTF-8, keys sorted, no spaces, no NaN) of
``{"event": {...}, "index": N, "v": 1}``. Putting the index inside the hashed bytes
means a row moved to another position no longer matches its hash, so reordered or
shifted rows are named exactly. Times are UTC with microseconds and a ``Z``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from bastion.audit.base import AuditEvent, DetailValue, Outcome
from bastion.errors import VerificationError

VERSION = 1
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def format_time(when: datetime) -> str:
    if when.utcoffset():
        when = when.astimezone(UTC)
    return when.isoformat(timespec="microseconds")[:26] + "Z"


def parse_time(text: str) -> datetime:
    return datetime.strptime(text, _TIME_FORMAT).replace(tzinfo=UTC)


def _detail(value: DetailValue) -> DetailValue:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # JSON has no NaN or infinity; keep the information as text
    return value


def event_body(event: AuditEvent) -> bytes:
    """The event's canonical JSON object, without the index (computed off the writer)."""
    details = dict(event.details)  # a plain dict: the encoder refuses mapping proxies
    if any(type(v) is float for v in details.values()):
        details = {k: _detail(v) for k, v in details.items()}
    obj = {
        "action": event.action,
        "actor": event.actor,
        "details": details,
        "outcome": event.outcome.value,
        "reason": event.reason,
        "resource": event.resource,
        "source": event.source,
        "time": format_time(event.time),
    }
    return _dumps(obj)


# One encoder, built once: json.dumps with options builds a new one per call.
_ENCODER = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)


def _dumps(obj: object) -> bytes:
    return _ENCODER.encode(obj).encode("utf-8")


def entry_bytes(index: int, body: bytes) -> bytes:
    """Exactly ``_dumps({"event": <body>, "index": index, "v": 1})``, built without
    re-serialising the body."""
    return b'{"event":' + body + b',"index":' + str(index).encode() + b',"v":1}'


def decode_entry(data: bytes) -> tuple[int, AuditEvent]:
    """Parse stored entry bytes; raises VerificationError if they are not canonical."""
    try:
        obj: Any = json.loads(data)
        index = obj["index"]
        raw = obj["event"]
        if obj.get("v") != VERSION or not isinstance(index, int) or not isinstance(raw, dict):
            raise ValueError("unknown entry layout")
        event = event_from_dict(raw)
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise VerificationError(f"entry is not a valid audit record: {exc}") from exc
    if entry_bytes(index, event_body(event)) != data:
        raise VerificationError("entry bytes are not in canonical form")
    return index, event


def event_from_dict(raw: Mapping[str, Any]) -> AuditEvent:
    details = raw.get("details") or {}
    if not isinstance(details, dict):
        raise ValueError("details must be an object")
    return AuditEvent(
        action=str(raw["action"]),
        actor=str(raw["actor"]),
        outcome=Outcome(raw["outcome"]),
        resource=raw.get("resource"),
        source=raw.get("source"),
        reason=raw.get("reason"),
        details=details,
        time=parse_time(str(raw["time"])),
    )


def event_to_dict(event: AuditEvent) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(event_body(event))
    return parsed
