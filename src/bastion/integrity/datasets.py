"""Sign a dataset record by record, and verify that a training job reads exactly it.

The manifest is an in-toto Statement v1 in the same signed bundle as models (Sigstore
bundle v0.3, DSSE), with a dataset predicate:

- each record's digest is SHA-256 over ``0x00`` and the record's canonical JSON (keys
  sorted, no spaces, UTF-8): the same bytes whether the row came from JSON Lines, CSV,
  Parquet or a ``datasets`` folder, and independent of whitespace in the file;
- the subject digest is the Merkle root of those digests (RFC 6962's tree: inner
  nodes hash ``0x01 || left || right``), computed in a stream with O(log n) memory;
- the predicate lists every record digest (base64 of their concatenation), so that
  :func:`verify_dataset` can name the first record that differs, not just say "no".

>>> signer = KeySigner.from_file(Path("me.key"), passphrase=None)  # doctest: +SKIP
>>> sign_dataset("train.jsonl", signer)  # doctest: +SKIP
>>> verify_dataset("train.jsonl", KeyVerifier.from_file(Path("me.pub")))  # doctest: +SKIP
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bastion.data import DatasetError, Record, RowError, iter_dataset
from bastion.errors import VerificationError
from bastion.integrity import bundle as _bundle
from bastion.integrity import statement as _statement
from bastion.integrity.base import Signer, Verifier
from bastion.integrity.statement import BadStatementError

PREDICATE_TYPE = "https://bastion.dev/dataset-manifest/v1"
RECORD_HASH = "sha256(0x00 || canonical-json(record))"
TREE = "rfc6962-sha256"
DEFAULT_SUFFIX = ".sig"
#: Bounded by the bundle size limit: 32 bytes a record, base64'd twice.
MAX_RECORDS = 4_000_000


def record_digest(raw: Mapping[str, Any]) -> bytes:
    """The leaf: SHA-256 of 0x00 and the record's canonical JSON."""
    text = json.dumps(raw, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(b"\x00" + text.encode("utf-8", "surrogatepass")).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


class MerkleRoot:
    """RFC 6962 Merkle tree head over leaves added one by one, in O(log n) memory."""

    def __init__(self) -> None:
        self._stack: list[tuple[int, bytes]] = []
        self.count = 0

    def add(self, leaf: bytes) -> None:
        size, node = 1, leaf
        while self._stack and self._stack[-1][0] == size:
            _, left = self._stack.pop()
            node, size = _node(left, node), size * 2
        self._stack.append((size, node))
        self.count += 1

    def root(self) -> bytes:
        if not self._stack:
            return hashlib.sha256(b"").digest()
        node = self._stack[-1][1]
        for _, left in reversed(self._stack[:-1]):
            node = _node(left, node)
        return node


@dataclass(frozen=True, slots=True)
class DatasetManifest:
    """The dataset's name, its Merkle root and every record's digest, in order."""

    name: str
    root: bytes
    digests: tuple[bytes, ...]

    @property
    def records(self) -> int:
        return len(self.digests)


class DatasetMismatchError(VerificationError):
    """The records read are not the records signed; ``index`` and ``location`` say where."""

    hint = "Do not train on it: a record was added, removed or changed after signing."

    def __init__(self, message: str, *, index: int, location: str) -> None:
        super().__init__(message)
        self.index = index
        self.location = location


def default_signature_path(dataset: str | os.PathLike[str]) -> Path:
    """``dataset.sig`` inside a dataset folder, or ``NAME.sig`` beside a dataset file."""
    path = Path(dataset)
    return path / "dataset.sig" if path.is_dir() else path.with_name(path.name + DEFAULT_SUFFIX)


def _records(dataset: Path) -> Iterator[Record | RowError]:
    return iter_dataset([dataset])


def hash_dataset(dataset: str | os.PathLike[str]) -> DatasetManifest:
    """Every record's digest and the Merkle root; an unreadable row is an error."""
    path = Path(dataset)
    tree = MerkleRoot()
    digests: list[bytes] = []
    for item in _records(path):
        if isinstance(item, RowError):
            raise DatasetError(
                f"cannot sign: {item.location}: {item.message}",
                hint="Fix or remove the unreadable rows (bastion data scan lists them), then sign.",
            )
        if len(digests) >= MAX_RECORDS:
            raise DatasetError(f"over {MAX_RECORDS} records; split the dataset and sign each part")
        digest = record_digest(item.raw)
        digests.append(digest)
        tree.add(digest)
    return DatasetManifest(path.name, tree.root(), tuple(digests))


def encode(manifest: DatasetManifest) -> bytes:
    statement = {
        "_type": _statement.STATEMENT_TYPE,
        "subject": [{"name": manifest.name, "digest": {"sha256": manifest.root.hex()}}],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "record_hash": RECORD_HASH,
            "tree": TREE,
            "records": manifest.records,
            "record_digests": base64.b64encode(b"".join(manifest.digests)).decode(),
        },
    }
    return json.dumps(statement, indent=2).encode()


def _field(obj: Any, key: str, kind: type, where: str) -> Any:
    if (
        not isinstance(obj, dict)
        or not isinstance(obj.get(key), kind)
        or isinstance(obj.get(key), bool)
    ):
        raise BadStatementError(f"{where}.{key} is missing or has the wrong type")
    return obj[key]


def decode(payload: bytes) -> DatasetManifest:
    """Parse and check a dataset statement (untrusted until its signature is checked)."""
    raw = _statement.loads(payload, "the signed payload")
    if _field(raw, "_type", str, "statement") != _statement.STATEMENT_TYPE:
        raise BadStatementError("not an in-toto Statement v1")
    if _field(raw, "predicateType", str, "statement") != PREDICATE_TYPE:
        raise BadStatementError(
            f"not a dataset signature (predicate {raw['predicateType']!r})",
            hint="Verify models with `bastion verify`, datasets with `bastion data verify`.",
        )
    subjects = _field(raw, "subject", list, "statement")
    if len(subjects) != 1:
        raise BadStatementError("expected one subject")
    name = _field(subjects[0], "name", str, "subject")
    try:
        root = bytes.fromhex(
            _field(_field(subjects[0], "digest", dict, "subject"), "sha256", str, "digest")
        )
    except ValueError:
        raise BadStatementError("the subject digest is not hexadecimal") from None
    predicate = _field(raw, "predicate", dict, "statement")
    if (
        _field(predicate, "record_hash", str, "predicate") != RECORD_HASH
        or _field(predicate, "tree", str, "predicate") != TREE
    ):
        raise BadStatementError("unknown record hash or tree in the dataset signature")
    count = _field(predicate, "records", int, "predicate")
    try:
        blob = base64.b64decode(
            _field(predicate, "record_digests", str, "predicate"), validate=True
        )
    except (binascii.Error, ValueError):
        raise BadStatementError("record_digests is not base64") from None
    if count < 0 or count > MAX_RECORDS or len(blob) != 32 * count:
        raise BadStatementError("record_digests does not hold one 32-byte digest per record")
    digests = tuple(blob[i : i + 32] for i in range(0, len(blob), 32))
    tree = MerkleRoot()
    for digest in digests:
        tree.add(digest)
    if len(root) != 32 or not hmac.compare_digest(tree.root(), root):
        raise BadStatementError("the record digests do not hash to the signed Merkle root")
    return DatasetManifest(name, root, digests)


def sign_dataset(
    dataset: str | os.PathLike[str],
    signer: Signer,
    *,
    signature_path: str | os.PathLike[str] | None = None,
) -> Path:
    """Hash every record, sign the manifest, write the bundle; return its path."""
    out = Path(signature_path) if signature_path is not None else default_signature_path(dataset)
    payload = encode(hash_dataset(dataset))
    signature = signer.sign(_bundle.pae(_statement.PAYLOAD_TYPE, payload))
    _bundle.write(
        out,
        _bundle.Bundle(
            _statement.PAYLOAD_TYPE, payload, signature, signer.key_hint, signer.certificates
        ),
    )
    return out


def verified_dataset_manifest(
    signature_path: str | os.PathLike[str], verifier: Verifier
) -> DatasetManifest:
    parsed = _bundle.read(Path(signature_path))
    verifier.verify(parsed)
    return decode(parsed.payload)


def verify_dataset(
    dataset: str | os.PathLike[str],
    verifier: Verifier,
    *,
    signature_path: str | os.PathLike[str] | None = None,
) -> DatasetManifest:
    """Return the manifest if the signature is good and every record matches; else raise.

    Raises :class:`DatasetMismatchError` naming the first record that was changed,
    added or removed (or that can no longer be read).
    """
    sig = Path(signature_path) if signature_path is not None else default_signature_path(dataset)
    expected = verified_dataset_manifest(sig, verifier)
    index = -1
    location = str(dataset)
    for index, item in enumerate(_records(Path(dataset))):
        location = item.location
        if isinstance(item, RowError):
            raise DatasetMismatchError(
                f"record {index} ({location}) cannot be read: {item.message}",
                index=index,
                location=location,
            )
        if index >= expected.records:
            raise DatasetMismatchError(
                f"record {index} ({location}) was added after signing",
                index=index,
                location=location,
            )
        if not hmac.compare_digest(record_digest(item.raw), expected.digests[index]):
            raise DatasetMismatchError(
                f"record {index} ({location}) differs from the signed one",
                index=index,
                location=location,
            )
    read = index + 1
    if read < expected.records:
        raise DatasetMismatchError(
            f"{expected.records - read} record(s) from record {read} on were removed after signing",
            index=read,
            location=location,
        )
    return expected
