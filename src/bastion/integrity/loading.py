"""Safe loading: verify, hash the very bytes, scan them, and only then deserialize.

Each weight file is read once into memory. Its digest is computed from those bytes and
checked against the signed manifest, the scanner runs over those bytes, and the loader
deserializes those bytes: nothing is read from disk again between check and use. Other
files of a model folder (configs, tokenizers) are hashed from disk and must match too.
PyTorch files load with ``torch.load(..., weights_only=True)``; safetensors are parsed
here (bounded header, in-bounds offsets) and turned into tensors. ``torch`` is imported
only when a file is loaded. Any failure raises; nothing is returned half-loaded.
"""

from __future__ import annotations

import io
import json
import os
import struct
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from bastion.crypto.digests import digest_bytes, shard_bounds
from bastion.errors import BastionError, VerificationError
from bastion.integrity._scanning import scan_bytes
from bastion.integrity.base import Verifier
from bastion.integrity.hashing import hash_model, iter_model_files, model_name
from bastion.integrity.manifest import Manifest, Resource, Serialization, check
from bastion.integrity.signing import _inside, default_signature_path, verified_manifest

#: File names loaded from a model folder (content decides how, the name only what).
WEIGHT_SUFFIXES = (".safetensors", ".pt", ".pth", ".bin", ".ckpt")
MAX_FILE_BYTES = 64 * 1024**3
MAX_SAFETENSORS_HEADER = 100 * 1024 * 1024


class LoadError(BastionError):
    """A file could not be loaded as weights."""

    hint = "Check that the file is a PyTorch state dict or a safetensors file."


def _read_once(path: str, limit: int) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)  # a link swapped in is refused
    except OSError as exc:
        raise LoadError(f"{path}: cannot open: {exc.strerror or exc}") from None
    with open(fd, "rb") as stream:
        size = os.fstat(stream.fileno()).st_size
        if size > limit:
            raise LoadError(f"{path}: {size} bytes is over the limit of {limit}")
        data = stream.read(size + 1)
    if len(data) != size:
        raise VerificationError(f"{path}: file changed while it was being read")
    return data


def _resources(data: bytes, name: str, serialization: Serialization) -> list[Resource]:
    label = serialization.item_algorithm
    if serialization.method == "files":
        return [Resource(name, label, digest_bytes(data, serialization.hash_type, threads=4))]
    assert serialization.shard_size is not None
    view = memoryview(data)
    return [
        Resource(f"{name}:{a}:{b}", label, digest_bytes(view[a:b], serialization.hash_type))
        for a, b in shard_bounds(len(data), serialization.shard_size)
    ]


def load(
    path: str | os.PathLike[str],
    *,
    verifier: Verifier | None,
    signature_path: str | os.PathLike[str] | None = None,
    allow_unsigned: bool = False,
    skip_scan: bool = False,
    max_file_bytes: int = MAX_FILE_BYTES,
) -> dict[str, Any]:
    """Load a state dict (a file) or every weight file of a model folder, merged.

    ``verifier`` checks the signature (``None`` only with ``allow_unsigned=True``); the
    scanner always runs unless ``skip_scan=True`` is written.
    Raises VerificationError (signature, mismatch, scanner findings) or LoadError.
    """
    root = Path(path)
    expected: Manifest | None = None
    if verifier is not None:
        sig = Path(signature_path) if signature_path else default_signature_path(root)
        expected = verified_manifest(sig, verifier)
    elif not allow_unsigned:
        raise VerificationError(
            "no verifier given: refusing to load an unverified model",
            hint="Pass verifier=KeyVerifier(...), or allow_unsigned=True if you must.",
        )
    extra: list[str] = []
    if root.is_dir():
        sig_rel = _inside(root, Path(signature_path)) if signature_path else "model.sig"
        extra = [sig_rel] if sig_rel else []
        ignores = (*(expected.serialization.ignore_paths if expected else ()), *extra)
        weights = [
            f
            for f in iter_model_files(root, ignore_paths=(*ignores, ".git"))
            if f.name.endswith(WEIGHT_SUFFIXES)
        ]
        if not weights:
            raise LoadError(f"{root}: no weight files ({', '.join(WEIGHT_SUFFIXES)})")
    else:
        weights = list(iter_model_files(root))
    names = [f.name for f in weights]
    # Configs and other files first (hashed from disk), so a changed config stops the load
    # before any weights are read.
    others = _hash_others(root, expected, names, extra) if expected else []
    mine: list[Resource] = []
    merged: dict[str, Any] = {}
    for f in weights:
        # One file at a time: read once, check, scan and deserialize the same bytes.
        data = _read_once(f.path, max_file_bytes)
        if expected is not None:
            got = _resources(data, f.name, expected.serialization)
            _check_file(expected, f.name, got)
            mine.extend(got)
        if not skip_scan:
            scan_bytes(data, f.name if f.name != "." else root.name)
        for key, value in _deserialize(data, f.name).items():
            if key in merged:
                raise LoadError(f"tensor {key!r} is defined in more than one file")
            merged[key] = value
        del data
    if expected is not None:
        # Nothing added or removed anywhere: the whole model matches the signature.
        serialization = replace(expected.serialization, allow_symlinks=False)
        check(expected, Manifest.build(model_name(root), serialization, [*others, *mine]))
    return merged


def _hash_others(
    root: Path, expected: Manifest, names: Sequence[str], extra: Sequence[str]
) -> list[Resource]:
    """Digests of every file that is not loaded (configs, tokenizers), checked now."""
    if not root.is_dir():
        return []
    serialization = replace(expected.serialization, allow_symlinks=False)
    rest = hash_model(root, serialization, extra_ignores=(*names, *extra))
    loaded = set(names)
    want = [r for r in expected.resources if r.path not in loaded]
    check(Manifest.build(rest.model_name, serialization, want), rest)
    return list(rest.resources)


def _check_file(expected: Manifest, name: str, got: list[Resource]) -> None:
    """The in-memory bytes of one file must be the bytes that were signed."""
    want = [r for r in expected.resources if r.path == name]
    ser = expected.serialization
    check(Manifest.build(name, ser, want), Manifest.build(name, ser, got))


def _deserialize(data: bytes, name: str) -> dict[str, Any]:
    if _looks_like_safetensors(data):
        return _load_safetensors(data, name)
    import torch

    try:
        obj = torch.load(io.BytesIO(data), weights_only=True, map_location="cpu")
    except Exception as exc:  # torch raises many types; none of them may escape as a pass
        raise LoadError(f"{name}: torch.load(weights_only=True) refused it: {exc}") from None
    if not isinstance(obj, dict):
        raise LoadError(f"{name}: not a state dict (a {type(obj).__name__})")
    return obj


def _looks_like_safetensors(data: bytes) -> bool:
    if len(data) < 10:
        return False
    (size,) = struct.unpack_from("<Q", data)
    return 2 <= size <= min(MAX_SAFETENSORS_HEADER, len(data) - 8) and data[8:9] == b"{"


_DTYPES = {
    "F64": "float64", "F32": "float32", "F16": "float16", "BF16": "bfloat16",
    "I64": "int64", "I32": "int32", "I16": "int16", "I8": "int8", "U8": "uint8",
    "U16": "uint16", "U32": "uint32", "U64": "uint64", "BOOL": "bool",
    "F8_E4M3": "float8_e4m3fn", "F8_E5M2": "float8_e5m2",
}  # fmt: skip


def _load_safetensors(data: bytes, name: str) -> dict[str, Any]:
    import torch

    (size,) = struct.unpack_from("<Q", data)
    try:
        header = json.loads(data[8 : 8 + size].decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise LoadError(f"{name}: safetensors header is not JSON") from None
    if not isinstance(header, dict):
        raise LoadError(f"{name}: safetensors header is not an object")
    body = memoryview(data)[8 + size :]
    out: dict[str, Any] = {}
    for key, info in header.items():
        if key == "__metadata__":
            continue
        try:
            dtype = getattr(torch, _DTYPES[info["dtype"]])
            shape = [int(d) for d in info["shape"]]
            begin, end = (int(x) for x in info["data_offsets"])
        except (KeyError, TypeError, ValueError):
            raise LoadError(f"{name}: bad safetensors entry {key!r}") from None
        count = 1
        for d in shape:
            if d < 0:
                raise LoadError(f"{name}: negative dimension in {key!r}")
            count *= d
        itemsize = torch.empty((), dtype=dtype).element_size()
        if not 0 <= begin <= end <= len(body) or end - begin != count * itemsize:
            raise LoadError(f"{name}: {key!r} data offsets are out of bounds or wrong size")
        if count == 0:
            out[key] = torch.empty(shape, dtype=dtype)
        else:
            chunk = bytearray(body[begin:end])
            out[key] = torch.frombuffer(chunk, dtype=dtype).reshape(shape)
    return out
