"""Streaming authenticated encryption of blobs: AES-256-GCM in segments (the STREAM construction).

The construction is Hoang, Reyhanitabar, Rogaway and Vizár's STREAM ("Online
Authenticated-Encryption and its Nonce-Reuse Misuse-Resistance", CRYPTO 2015), as Tink's
AES-GCM-HKDF streaming AEAD uses it. ``cryptography`` does the AEAD and the key derivation;
this module only frames segments and derives their nonces, which no maintained library
offers as a push-style (update/finalize) API for Python.

Layout (all integers big-endian)::

    header   magic "BSTN-ENC" (8) | version 1 (1) | segment size (4)
             | HKDF salt (32) | nonce prefix (7)
    segment  frame (4): last-segment bit (top bit) | plaintext length (31 bits)
             | AES-256-GCM ciphertext of that many bytes | 16-byte tag

* per blob: subkey = HKDF-SHA256(data key, salt, info) — a fresh salt per blob, so one data
  key may safely encrypt many blobs;
* per segment: nonce = prefix (7) | segment counter (4) | last-segment flag (1);
  associated data = the header bytes followed by the caller's ``associated_data``.

Every segment but the last holds exactly ``segment size`` plaintext bytes; the last holds
0 to ``segment size - 1`` (so a blob has exactly one encoding, and an empty last segment
ends a blob whose size is a multiple of the segment size) and is the only one whose nonce
has the flag set. The frame's
copy of the flag and length only tell the decryptor where a segment ends: both are
authenticated (the flag through the nonce, the length through the GCM tag), so changing
them fails like any other edit. Truncation, reordering, duplication, bit flips, header
edits, a wrong key and wrong associated data all raise :class:`IntegrityError`.

``cryptography`` is imported when an encryptor or decryptor is first made, not at import.
"""

from __future__ import annotations

import io
import os
import struct
from collections.abc import Iterator
from typing import TYPE_CHECKING, BinaryIO, TypeAlias

from bastion.errors import IntegrityError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

Bytes: TypeAlias = bytes | bytearray | memoryview

__all__ = [
    "HEADER_SIZE",
    "MAX_SEGMENT_SIZE",
    "MIN_SEGMENT_SIZE",
    "SEGMENT_SIZE",
    "BlobDecryptor",
    "BlobEncryptor",
    "SegmentReader",
    "decrypt_file",
    "encrypt_file",
    "new_data_key",
]

SEGMENT_SIZE = 1 << 20  # plaintext bytes per segment (default)
MIN_SEGMENT_SIZE = 16
MAX_SEGMENT_SIZE = 1 << 24  # bounds what a decryptor buffers for a hostile header
KEY_SIZE = 32
MAGIC = b"BSTN-ENC"
VERSION = 1
_SALT_SIZE = 32
_PREFIX_SIZE = 7
_HEADER = struct.Struct(f">{len(MAGIC)}sBI{_SALT_SIZE}s{_PREFIX_SIZE}s")
HEADER_SIZE = _HEADER.size
_FRAME = struct.Struct(">I")
_LAST = 1 << 31
_TAG_SIZE = 16
_MAX_SEGMENTS = 1 << 32  # the counter is 4 bytes
_HKDF_INFO = b"bastion envelope v1: AES-256-GCM segment key"


def new_data_key() -> bytes:
    """A new random 256-bit data key (one per blob)."""
    return os.urandom(KEY_SIZE)


def _check_key(data_key: bytes) -> None:
    if not isinstance(data_key, bytes) or len(data_key) != KEY_SIZE:
        raise ValueError(f"a data key is {KEY_SIZE} bytes (use new_data_key())")


def _aead(data_key: bytes, salt: bytes) -> AESGCM:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    subkey = HKDF(hashes.SHA256(), KEY_SIZE, salt, _HKDF_INFO).derive(data_key)
    return AESGCM(subkey)


def _nonce(prefix: bytes, counter: int, last: bool) -> bytes:
    return prefix + counter.to_bytes(4, "big") + (b"\x01" if last else b"\x00")


class BlobEncryptor:
    """Encrypts one blob as a stream: write :meth:`header`, then every :meth:`update`, then
    :meth:`finalize`. Memory stays at about one segment whatever the blob's size."""

    def __init__(
        self, data_key: bytes, *, associated_data: bytes, segment_size: int = SEGMENT_SIZE
    ) -> None:
        _check_key(data_key)
        if not MIN_SEGMENT_SIZE <= segment_size <= MAX_SEGMENT_SIZE:
            raise ValueError(f"segment_size must be {MIN_SEGMENT_SIZE} to {MAX_SEGMENT_SIZE} bytes")
        salt = os.urandom(_SALT_SIZE)
        self._prefix = os.urandom(_PREFIX_SIZE)
        self._header = _HEADER.pack(MAGIC, VERSION, segment_size, salt, self._prefix)
        self._aad = self._header + bytes(associated_data)
        self._aead = _aead(data_key, salt)
        self._size = segment_size
        self._pending = bytearray()
        self._view = memoryview(bytearray(_FRAME.size + segment_size + _TAG_SIZE))
        self._counter = 0
        self._finished = False

    def header(self) -> bytes:
        """The blob's header: write it before any ciphertext."""
        return self._header

    def _seal(self, plaintext: Bytes, last: bool) -> memoryview:
        """Frame and seal one segment into the reused output buffer; valid until the next."""
        if self._counter >= _MAX_SEGMENTS:
            raise ValueError("blob too large: the segment counter would wrap")
        nonce = _nonce(self._prefix, self._counter, last)
        self._counter += 1
        end = _FRAME.size + len(plaintext) + _TAG_SIZE
        out = self._view[:end]
        _FRAME.pack_into(out, 0, (_LAST if last else 0) | len(plaintext))
        self._aead.encrypt_into(nonce, plaintext, self._aad, out[_FRAME.size :])
        return out

    def _sealed(self, data: Bytes) -> Iterator[memoryview]:
        """Each segment ``data`` completes, sealed; consume each view before the next."""
        if self._finished:
            raise ValueError("update() after finalize()")
        size = self._size
        with memoryview(data) as view:
            start = 0
            if self._pending:
                start = min(size - len(self._pending), len(view))
                self._pending += view[:start]
                if len(self._pending) < size:
                    return
                yield self._seal(self._pending, False)
                self._pending = bytearray()
            # Whole segments straight from the caller's buffer: no copy of the plaintext.
            count = (len(view) - start) // size
            for i in range(count):
                offset = start + i * size
                yield self._seal(view[offset : offset + size], False)
            self._pending += view[start + count * size :]

    def update(self, data: Bytes) -> bytes:
        """The ciphertext of every segment completed so far (often empty)."""
        # Segments are sealed into one reused buffer and copied out once: a fresh allocation
        # per segment for the cipher and another for the frame cost more than the cipher.
        parts = [bytes(sealed) for sealed in self._sealed(data)]
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def finalize(self) -> bytes:
        """The last segment (0 to ``segment_size - 1`` plaintext bytes), flagged as last."""
        if self._finished:
            raise ValueError("finalize() called twice")
        self._finished = True
        last = bytes(self._seal(bytes(self._pending), True))
        self._pending = bytearray()
        return last


class BlobDecryptor:
    """Decrypts what :class:`BlobEncryptor` wrote, fed in chunks of any size.

    :meth:`update` returns only plaintext whose segment has been authenticated; any failure
    raises :class:`IntegrityError`, and the decryptor then refuses further use. Call
    :meth:`finalize` at the end: only it can tell a complete blob from a truncated one, so
    treat the plaintext as unverified (write it to a temporary place) until it returns.
    """

    def __init__(self, data_key: bytes, *, associated_data: bytes) -> None:
        _check_key(data_key)
        self._key = data_key
        self._ad = bytes(associated_data)
        self._buffer = bytearray()
        self._aead: AESGCM | None = None
        self._aad = b""
        self._prefix = b""
        self._size = 0
        self._counter = 0
        self._done = False
        self._failed = False

    def _fail(self, message: str) -> IntegrityError:
        self._failed = True
        self._buffer = bytearray()
        return IntegrityError(message)

    def _read_header(self) -> None:
        magic, version, size, salt, prefix = _HEADER.unpack_from(self._buffer)
        if magic != MAGIC:
            raise self._fail("not a Bastion encrypted blob (bad magic bytes)")
        if version != VERSION:
            raise self._fail(f"unsupported encrypted blob version {version}")
        if not MIN_SEGMENT_SIZE <= size <= MAX_SEGMENT_SIZE:
            raise self._fail(f"encrypted blob header names an invalid segment size {size}")
        self._aad = bytes(self._buffer[:HEADER_SIZE]) + self._ad
        self._aead = _aead(self._key, salt)
        self._prefix = prefix
        self._size = size
        del self._buffer[:HEADER_SIZE]

    def _open(self, view: memoryview, last: bool) -> bytes:
        from cryptography.exceptions import InvalidTag

        assert self._aead is not None
        if self._counter >= _MAX_SEGMENTS:
            raise self._fail("too many segments: the counter would wrap")
        nonce = _nonce(self._prefix, self._counter, last)
        try:
            plaintext = self._aead.decrypt(nonce, view, self._aad)
        except InvalidTag:
            raise self._fail(
                f"segment {self._counter} failed authentication: wrong key or associated "
                "data, or the blob was altered, reordered or truncated"
            ) from None
        self._counter += 1
        return plaintext

    def _segments(self, buffer: Bytes) -> tuple[list[bytes], int]:
        """Authenticate every complete segment in ``buffer``; return them and bytes used."""
        out: list[bytes] = []
        offset = 0
        with memoryview(buffer) as view:
            while not self._done and len(buffer) - offset >= _FRAME.size:
                (frame,) = _FRAME.unpack_from(buffer, offset)
                last, length = bool(frame & _LAST), frame & ~_LAST
                if (length >= self._size) if last else (length != self._size):
                    raise self._fail(f"segment {self._counter} has an invalid frame")
                end = offset + _FRAME.size + length + _TAG_SIZE
                if end > len(buffer):
                    break
                out.append(self._open(view[offset + _FRAME.size : end], last))
                offset = end
                self._done = last
        if self._done and offset < len(buffer):
            raise self._fail("data after the last segment")
        return out, offset

    def update(self, data: Bytes) -> bytes:
        """Plaintext of every segment authenticated so far (reads the header first)."""
        if self._failed:
            raise IntegrityError("this blob already failed authentication")
        if self._done:
            if data:
                raise self._fail("data after the last segment")
            return b""
        if self._aead is None or self._buffer:
            self._buffer += data
            if self._aead is None:
                if len(self._buffer) < HEADER_SIZE:
                    return b""
                self._read_header()
            out, used = self._segments(self._buffer)
            del self._buffer[:used]
        else:  # nothing buffered: read the caller's bytes in place, keep only a partial tail
            out, used = self._segments(data)
            self._buffer += data[used:]
        return b"".join(out)

    def finalize(self) -> None:
        """Return None if the last segment came and nothing followed it; else raise."""
        if self._failed:
            raise IntegrityError("this blob already failed authentication")
        if not self._done:
            raise self._fail("the encrypted blob is truncated: its last segment never came")


class SegmentReader(io.RawIOBase):
    """Random access to the plaintext of an encrypted blob whose size is known, for
    readers that seek (the model scanner reads a zip's directory at its end, a
    safetensors header and nothing else). Each segment is authenticated before any of its
    bytes are returned; its position is bound into its nonce (the counter and, for the
    last one, the flag), so a segment moved, repeated, dropped or cut short fails, and a
    file longer or shorter than ``size`` implies is refused at once.
    """

    def __init__(
        self, src: BinaryIO, data_key: bytes, *, associated_data: bytes, size: int
    ) -> None:
        super().__init__()
        _check_key(data_key)
        header = src.read(HEADER_SIZE)
        if len(header) != HEADER_SIZE:
            raise IntegrityError("the encrypted blob is truncated: no complete header")
        magic, version, segment, salt, prefix = _HEADER.unpack(header)
        if magic != MAGIC or version != VERSION:
            raise IntegrityError("not a Bastion encrypted blob of a known version")
        if not MIN_SEGMENT_SIZE <= segment <= MAX_SEGMENT_SIZE or size < 0:
            raise IntegrityError(f"encrypted blob header names an invalid segment size {segment}")
        self._src = src
        self._aad = header + bytes(associated_data)
        self._aead = _aead(data_key, salt)
        self._prefix: bytes = prefix
        self._segment: int = segment
        self._size = size
        self._count = size // segment + 1  # the last holds 0 to segment - 1 bytes
        stored = HEADER_SIZE + self._count * (_FRAME.size + _TAG_SIZE) + size
        if src.seek(0, io.SEEK_END) != stored:
            raise IntegrityError("the encrypted blob's length does not match its recorded size")
        self._pos = 0
        self._cached = -1
        self._plain = b""
        self._end_ok = False

    def close(self) -> None:
        if not self.closed:
            self._src.close()
        super().close()

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        if base + offset < 0:
            raise ValueError("negative seek position")
        self._pos = base + offset
        return self._pos

    def _load(self, index: int) -> bytes:
        from cryptography.exceptions import InvalidTag

        if index != self._cached:
            last = index == self._count - 1
            length = self._size - index * self._segment if last else self._segment
            stride = _FRAME.size + self._segment + _TAG_SIZE
            self._src.seek(HEADER_SIZE + index * stride)
            data = self._src.read(_FRAME.size + length + _TAG_SIZE)
            if len(data) != _FRAME.size + length + _TAG_SIZE:
                raise IntegrityError(f"segment {index} is truncated")
            if _FRAME.unpack_from(data)[0] != ((_LAST if last else 0) | length):
                raise IntegrityError(f"segment {index} has an invalid frame")
            try:
                self._plain = self._aead.decrypt(
                    _nonce(self._prefix, index, last), data[_FRAME.size :], self._aad
                )
            except InvalidTag:
                raise IntegrityError(
                    f"segment {index} failed authentication: wrong key or associated data, "
                    "or the blob was altered, reordered or truncated"
                ) from None
            self._cached = index
            self._end_ok = self._end_ok or last
        return self._plain

    def readinto(self, buffer: Bytes) -> int:  # type: ignore[override]
        with memoryview(buffer) as out:
            if len(out) == 0:
                return 0
            if self._pos >= self._size:
                # The end: authenticate the last segment too (empty when the size is a
                # multiple of the segment size), so that reading to the end proves the
                # blob ends where it should.
                if not self._end_ok:
                    self._load(self._count - 1)
                    self._end_ok = True
                return 0
            index, at = divmod(self._pos, self._segment)
            plain = self._load(index)
            n = min(len(out), len(plain) - at)
            out[:n] = plain[at : at + n]
            self._pos += n
            return n


def _chunks(src: BinaryIO, size: int) -> Iterator[memoryview]:
    """Read ``src`` into one reused buffer (the en/decryptors keep no reference to it)."""
    readinto = getattr(src, "readinto", None)
    if readinto is None:  # a minimal stream: read() alone
        while chunk := src.read(size):
            yield memoryview(chunk)
        return
    view = memoryview(bytearray(size))
    while n := readinto(view):
        yield view[:n]


def encrypt_file(src: BinaryIO, dst: BinaryIO, data_key: bytes, *, associated_data: bytes) -> int:
    """Encrypt ``src`` to ``dst`` (both binary streams); return the bytes written."""
    encryptor = BlobEncryptor(data_key, associated_data=associated_data)
    written = dst.write(encryptor.header())
    for chunk in _chunks(src, SEGMENT_SIZE):
        for sealed in encryptor._sealed(chunk):  # written from the encryptor's buffer: no copy
            written += dst.write(sealed)
    return written + dst.write(encryptor.finalize())


def decrypt_file(src: BinaryIO, dst: BinaryIO, data_key: bytes, *, associated_data: bytes) -> int:
    """Decrypt ``src`` to ``dst``; return the plaintext bytes written.

    Plaintext is written segment by segment as each is authenticated, and truncation is
    only known at the end: on :class:`IntegrityError` discard whatever ``dst`` received.
    """
    decryptor = BlobDecryptor(data_key, associated_data=associated_data)
    written = dst.write(decryptor.update(src.read(HEADER_SIZE)))  # then reads align with frames
    for chunk in _chunks(src, _FRAME.size + SEGMENT_SIZE + _TAG_SIZE):
        written += dst.write(decryptor.update(chunk))
    decryptor.finalize()
    return written
