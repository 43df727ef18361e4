"""Encrypted blobs on the local disk, one file per blob under ``<data dir>/blobs``.

Each blob has its own random data key (:func:`bastion.crypto.envelope.new_data_key`),
wrapped by the key-encryption key (:class:`bastion.crypto.kek.KeyProvider`). The blob id
is bound into both the segment encryption and the key wrap (associated data and context),
so a blob file swapped for another, or a wrapped key moved to another blob, fails
authentication. A blob is written to ``blobs/tmp`` and renamed into place when complete.
"""

from __future__ import annotations

import hashlib
import io
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from bastion.crypto.envelope import BlobDecryptor, BlobEncryptor, SegmentReader, new_data_key
from bastion.crypto.kek import KeyProvider, WrappedKey
from bastion.errors import IntegrityError

__all__ = ["BlobReader", "BlobStore", "BlobWriter", "SealedBlob"]

READ_CHUNK = (1 << 20) + 4 + 16  # one encrypted segment (frame + tag) at the default size


def blob_context(blob_id: str) -> bytes:
    """Associated data for a blob's segments and its wrapped key."""
    return b"bastion-registry-blob-v1:" + blob_id.encode("ascii")


@dataclass(frozen=True, slots=True)
class SealedBlob:
    """A blob written in full: what the database records about it."""

    id: str
    size: int
    sha256: str
    wrapped_key: WrappedKey


class BlobStore:
    def __init__(self, root: Path, keys: KeyProvider) -> None:
        self.root = root
        self.keys = keys
        self.tmp = root / "tmp"
        root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.tmp.mkdir(exist_ok=True, mode=0o700)

    def path(self, blob_id: str) -> Path:
        if len(blob_id) != 32 or not all(c in "0123456789abcdef" for c in blob_id):
            raise ValueError("not a blob id")
        return self.root / blob_id[:2] / blob_id

    def writer(self) -> BlobWriter:
        return BlobWriter(self, secrets.token_hex(16))

    def delete(self, blob_id: str) -> None:
        self.path(blob_id).unlink(missing_ok=True)

    def reader(self, blob_id: str, wrapped: WrappedKey) -> BlobReader:
        data_key = self.keys.unwrap(wrapped, context=blob_context(blob_id))
        return BlobReader(self.path(blob_id), data_key, blob_context(blob_id))

    def on_disk(self) -> set[str]:
        """Ids of every complete blob file (for checks that nothing is left behind)."""
        return {
            p.name
            for d in self.root.iterdir()
            if d.is_dir() and len(d.name) == 2
            for p in d.iterdir()
        }

    def partial_files(self) -> list[Path]:
        return list(self.tmp.iterdir())


class BlobWriter:
    """Encrypts and hashes plaintext as it comes; :meth:`seal` puts the blob in place.

    Use as a context manager: leaving it without :meth:`seal` (an exception, a cancelled
    request) deletes the partial file.
    """

    def __init__(self, store: BlobStore, blob_id: str) -> None:
        self.id = blob_id
        self._store = store
        data_key = new_data_key()
        context = blob_context(blob_id)
        self._wrapped = store.keys.wrap(data_key, context=context)
        self._data_key = data_key
        self._encryptor = BlobEncryptor(data_key, associated_data=context)
        self._part = store.tmp / f"{blob_id}.part"
        fd = os.open(self._part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self._out: BinaryIO | None = os.fdopen(fd, "wb", buffering=0)
        self._out.write(self._encryptor.header())
        self._sha = hashlib.sha256()
        self.size = 0
        self._sealed = False

    def write(self, chunk: bytes) -> None:
        assert self._out is not None, "blob writer already closed"
        self._sha.update(chunk)
        self.size += len(chunk)
        self._out.write(self._encryptor.update(chunk))

    @property
    def sha256(self) -> str:
        return self._sha.hexdigest()

    def seal(self) -> SealedBlob:
        assert self._out is not None, "blob writer already closed"
        self._out.write(self._encryptor.finalize())
        os.fsync(self._out.fileno())
        self._out.close()
        self._out = None
        final = self._store.path(self.id)
        final.parent.mkdir(exist_ok=True, mode=0o700)
        os.replace(self._part, final)
        self._sealed = True
        return SealedBlob(self.id, self.size, self.sha256, self._wrapped)

    def plaintext(self) -> BinaryIO:
        """The sealed blob's plaintext as a seekable stream, read back from the encrypted
        file with each segment authenticated as it is read (what the scanner reads: no
        plaintext copy of an upload ever touches the disk)."""
        if not self._sealed:
            raise ValueError("the blob is not sealed yet")
        raw = SegmentReader(
            self._store.path(self.id).open("rb"),
            self._data_key,
            associated_data=blob_context(self.id),
            size=self.size,
        )
        return io.BufferedReader(raw, buffer_size=1 << 20)

    def discard(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None
        self._part.unlink(missing_ok=True)
        if self._sealed:
            self._store.delete(self.id)

    def __enter__(self) -> BlobWriter:
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        if exc_type is not None or not self._sealed:
            self.discard()


class BlobReader:
    """Plaintext of a blob, segment by segment, each authenticated before it is returned,
    with the SHA-256 of everything returned checked at the end."""

    def __init__(self, path: Path, data_key: bytes, context: bytes) -> None:
        self._path = path
        self._decryptor = BlobDecryptor(data_key, associated_data=context)

    def chunks(self, *, expected_sha256: str, expected_size: int) -> Iterator[bytes]:
        """Yield verified plaintext; raise :class:`IntegrityError` the moment a segment
        fails, the blob is truncated, or the whole does not hash to ``expected_sha256``."""
        # The last chunk is held back until the whole blob has verified, so a client that
        # reads to the end has received nothing unverified: any failure truncates it.
        sha = hashlib.sha256()
        size = 0
        pending = b""
        try:
            src = self._path.open("rb")
        except FileNotFoundError:
            raise IntegrityError(f"blob file {self._path.name} is missing") from None
        with src:
            while block := src.read(READ_CHUNK):
                plain = self._decryptor.update(block)
                if plain:
                    sha.update(plain)
                    size += len(plain)
                    if size > expected_size:
                        raise IntegrityError("the blob holds more bytes than recorded")
                    if pending:
                        yield pending
                    pending = plain
        self._decryptor.finalize()
        if size != expected_size or sha.hexdigest() != expected_sha256:
            raise IntegrityError("the blob's SHA-256 does not match the recorded digest")
        if pending:
            yield pending
