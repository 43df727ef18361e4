"""What a namespace accepts. A version that fails its namespace's policy is quarantined:
it exists and its report can be read, but only an admin can release it, with a reason.

The default policy is strict: no scan errors, no finding above LOW, any format, signature
optional. A namespace can require a signature by one of its trusted keys and restrict the
formats it accepts (e.g. ``["safetensors"]``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bastion.models import Severity
from bastion.registry.errors import BadRequest

__all__ = ["FileVerdict", "NamespacePolicy", "evaluate"]


@dataclass(frozen=True, slots=True)
class NamespacePolicy:
    require_signature: bool = False
    trusted_keys: tuple[str, ...] = ()  # PEM public keys that may sign versions
    max_severity: Severity = Severity.LOW  # the highest finding severity accepted
    allowed_formats: tuple[str, ...] = ()  # empty: any format the scanner knows
    allow_unscanned: bool = False  # files no scanner recognised (skipped) are accepted

    def to_dict(self) -> dict[str, Any]:
        return {
            "require_signature": self.require_signature,
            "trusted_keys": list(self.trusted_keys),
            "max_severity": self.max_severity.label,
            "allowed_formats": list(self.allowed_formats),
            "allow_unscanned": self.allow_unscanned,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> NamespacePolicy:
        known = {"require_signature", "trusted_keys", "max_severity", "allowed_formats"}
        known.add("allow_unscanned")
        unknown = set(raw) - known
        if unknown:
            raise BadRequest(f"unknown policy fields: {', '.join(sorted(unknown))}")
        try:
            policy = cls(
                require_signature=_bool(raw.get("require_signature", False)),
                trusted_keys=_strings(raw.get("trusted_keys", [])),
                max_severity=Severity.parse(str(raw.get("max_severity", "low"))),
                allowed_formats=_strings(raw.get("allowed_formats", [])),
                allow_unscanned=_bool(raw.get("allow_unscanned", False)),
            )
        except ValueError as exc:
            raise BadRequest(f"invalid policy: {exc}") from None
        if policy.require_signature and not policy.trusted_keys:
            raise BadRequest("a policy that requires a signature needs trusted_keys")
        for pem in policy.trusted_keys:
            _check_public_key(pem)
        return policy

    @classmethod
    def from_json(cls, text: str) -> NamespacePolicy:
        return cls.from_dict(json.loads(text))


def _bool(value: object) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {value!r}")
    return value


def _strings(value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError("expected a list of strings")
    return tuple(value)


def _check_public_key(pem: str) -> None:
    from bastion.crypto.keys import KeyFileError, load_public

    try:
        load_public(pem.encode("utf-8"))
    except (KeyFileError, ValueError) as exc:
        raise BadRequest(f"a trusted key is not a PEM public key: {exc}") from None


@dataclass(frozen=True, slots=True)
class FileVerdict:
    """What the scanner said about one uploaded file (a row of the version's report)."""

    path: str
    formats: tuple[str, ...]
    max_severity: Severity | None
    errors: int
    skipped: bool


def evaluate(
    policy: NamespacePolicy,
    files: Sequence[FileVerdict],
    *,
    signature: str | None,
    signature_problem: str | None,
) -> list[str]:
    """Every reason the version fails ``policy`` (empty: it passes).

    ``signature`` is the bundle uploaded with the version, ``signature_problem`` why it
    did not verify against the trusted keys and the uploaded files (None when it did).
    """
    reasons: list[str] = []
    for f in files:
        if f.errors:
            reasons.append(f"{f.path}: could not be scanned to the end ({f.errors} error(s))")
        if f.max_severity is not None and f.max_severity > policy.max_severity:
            reasons.append(
                f"{f.path}: {f.max_severity.label} finding(s) above the namespace's "
                f"maximum ({policy.max_severity.label})"
            )
        if f.skipped and not policy.allow_unscanned:
            reasons.append(f"{f.path}: no scanner recognised its format")
        if policy.allowed_formats and not (f.skipped and policy.allow_unscanned):
            outside = [x for x in f.formats if x not in policy.allowed_formats]
            if outside or not f.formats:
                shown = ", ".join(outside or ["unknown"])
                reasons.append(f"{f.path}: format {shown} is not allowed here")
    if signature is not None and signature_problem is not None:
        reasons.append(f"signature: {signature_problem}")
    elif signature is None and policy.require_signature:
        reasons.append("signature: the namespace requires a signature and none was uploaded")
    return reasons
