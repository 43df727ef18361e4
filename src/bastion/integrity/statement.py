"""The signed payload: an in-toto Statement v1 with model_signing's predicate (v1.0).

Encoding writes the fields model_signing writes; decoding reads untrusted bytes with
bounds (size, resource count, name length), refuses duplicate JSON keys (two parsers
must never see two different manifests), and checks the subject digest against the
resources, as model_signing does.
"""

from __future__ import annotations

import hmac
import json
from typing import Any

from bastion.errors import VerificationError
from bastion.integrity.manifest import METHODS, Manifest, Resource, Serialization

PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://model_signing/signature/v1.0"
PREDICATE_TYPE_V01 = "https://model_signing/Digests/v0.1"

#: Bounds on untrusted manifests: a bigger one is refused, never parsed half-way.
MAX_RESOURCES = 1_000_000
MAX_NAME = 4096


class BadStatementError(VerificationError):
    """The signed payload is not a model_signing in-toto statement Bastion can use."""

    hint = "The signature file is damaged or not a model signature; sign the model again."


def encode(manifest: Manifest) -> bytes:
    """The statement's JSON bytes (what the DSSE envelope carries and the signature covers)."""
    statement = {
        "_type": STATEMENT_TYPE,
        "subject": [
            {"name": manifest.model_name, "digest": {"sha256": manifest.root_digest().hex()}}
        ],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "serialization": manifest.serialization.to_dict(),
            "resources": [
                {"name": r.name, "algorithm": r.algorithm, "digest": r.digest.hex()}
                for r in manifest.resources
            ],
        },
    }
    return json.dumps(statement, indent=2).encode()


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise BadStatementError(f"duplicate JSON key {key!r} in the signed payload")
        out[key] = value
    return out


def loads(data: bytes, what: str) -> Any:
    """Strict JSON: UTF-8, no duplicate keys, no NaN; errors are VerificationErrors."""
    try:
        return json.loads(
            data.decode("utf-8"),
            object_pairs_hook=_no_duplicates,
            parse_constant=_bad_constant,
        )
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        if isinstance(exc, VerificationError):
            raise
        raise BadStatementError(f"{what} is not valid JSON: {exc}") from None


def _bad_constant(name: str) -> Any:
    raise BadStatementError(f"{name} is not allowed in JSON")


def _get(obj: Any, key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if not isinstance(obj, dict):
        raise BadStatementError(f"{where} is not a JSON object")
    if key not in obj:
        raise BadStatementError(f"{where} has no {key!r}")
    value = obj[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise BadStatementError(f"{where}.{key} has the wrong type")
    return value


def _hex(text: str, where: str) -> bytes:
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise BadStatementError(f"{where} is not hexadecimal") from None


def _serialization(raw: Any) -> Serialization:
    method = _get(raw, "method", str, "serialization")
    if method not in METHODS:
        raise BadStatementError(f"unknown serialization method {method!r}")
    hash_type = _get(raw, "hash_type", str, "serialization")
    if hash_type not in ("sha256", "blake3"):
        raise BadStatementError(f"unsupported hash type {hash_type!r} (Bastion: sha256, blake3)")
    allow = _get(raw, "allow_symlinks", bool, "serialization")
    ignores = raw.get("ignore_paths", [])
    if not isinstance(ignores, list) or not all(isinstance(p, str) for p in ignores):
        raise BadStatementError("serialization.ignore_paths is not a list of strings")
    shard = _get(raw, "shard_size", int, "serialization") if method == "shards" else None
    if shard is not None and shard <= 0:
        raise BadStatementError("serialization.shard_size must be positive")
    return Serialization(method, hash_type, allow, shard, tuple(ignores))


def _check_name(name: str, sharded: bool) -> None:
    if not name or len(name) > MAX_NAME or "\x00" in name:
        raise BadStatementError(f"bad resource name {name[:80]!r}")
    path = name
    if sharded:
        parts = name.split(":")
        if len(parts) != 3 or not all(p.isdigit() for p in parts[1:]):
            raise BadStatementError(f"bad shard name {name[:80]!r}")
        path = parts[0]
        if int(parts[1]) >= int(parts[2]):
            raise BadStatementError(f"empty or reversed shard {name[:80]!r}")
    if path == ".":
        return
    segments = path.split("/")
    if path.startswith("/") or any(s in ("", ".", "..") for s in segments):
        raise BadStatementError(f"resource name {name[:80]!r} is not a relative path")


def decode(data: bytes) -> Manifest:
    """Parse and check a statement; return the manifest it signs."""
    raw = loads(data, "the signed payload")
    if _get(raw, "_type", str, "statement") != STATEMENT_TYPE:
        raise BadStatementError(f"not an in-toto {STATEMENT_TYPE} statement")
    predicate_type = _get(raw, "predicateType", str, "statement")
    if predicate_type == PREDICATE_TYPE_V01:
        raise BadStatementError(
            "model_signing v0.1 predicate (pre-1.0 signature) is not supported",
            hint="Sign the model again with model_signing 1.x or Bastion.",
        )
    if predicate_type != PREDICATE_TYPE:
        raise BadStatementError(f"unknown predicate type {predicate_type!r}")
    subjects = _get(raw, "subject", list, "statement")
    if len(subjects) != 1:
        raise BadStatementError(f"expected one subject, got {len(subjects)}")
    name = _get(subjects[0], "name", str, "subject")
    root = _hex(
        _get(_get(subjects[0], "digest", dict, "subject"), "sha256", str, "digest"),
        "subject digest",
    )
    predicate = _get(raw, "predicate", dict, "statement")
    serialization = _serialization(_get(predicate, "serialization", dict, "predicate"))
    items = _get(predicate, "resources", list, "predicate")
    if len(items) > MAX_RESOURCES:
        raise BadStatementError(f"manifest has {len(items)} resources (limit {MAX_RESOURCES})")
    sharded = serialization.method == "shards"
    resources = []
    for item in items:
        rname = _get(item, "name", str, "resource")
        _check_name(rname, sharded)
        algorithm = _get(item, "algorithm", str, "resource")
        if algorithm != serialization.item_algorithm:
            raise BadStatementError(
                f"resource {rname[:80]!r}: algorithm {algorithm!r} does not match the "
                f"serialization ({serialization.item_algorithm!r})"
            )
        digest = _hex(_get(item, "digest", str, "resource"), f"digest of {rname[:80]!r}")
        if len(digest) != 32:
            raise BadStatementError(f"digest of {rname[:80]!r} is not 32 bytes")
        resources.append(Resource(rname, algorithm, digest))
    # The subject digest covers the resources in the order they are listed.
    in_order = Manifest(name, serialization, tuple(resources))
    if not hmac.compare_digest(in_order.root_digest(), root):
        raise BadStatementError(
            "manifest is inconsistent: the resources do not hash to the subject"
        )
    if len({r.name for r in resources}) != len(resources):
        raise BadStatementError("a resource is listed twice")
    return Manifest.build(name, serialization, resources)


__all__ = [
    "PAYLOAD_TYPE",
    "BadStatementError",
    "decode",
    "encode",
]
