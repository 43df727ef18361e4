"""Signed checkpoints in the C2SP ``tlog-checkpoint`` / ``signed-note`` formats.

A checkpoint is the note body ``<origin>\\n<tree size>\\n<base64 root hash>\\n``, then a
blank line and one signature line per signer::

    — <key name> <base64(4-byte key hash || Ed25519 signature of the body)>

The key hash is ``SHA-256(key name || 0x0A || 0x01 || 32-byte public key)[:4]`` and the
verifier key is written ``<name>+<hex key hash>+<base64(0x01 || public key)>``, as in
https://c2sp.org/signed-note, so Go's ``golang.org/x/mod/sumdb/note`` can check it too.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from bastion.errors import ConfigError, VerificationError

_ED25519 = b"\x01"
_DASH = "\u2014"  # the em dash that starts a signature line
MAX_NOTE = 64 * 1024


@dataclass(frozen=True, slots=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes

    def body(self) -> bytes:
        root = base64.b64encode(self.root).decode()
        return f"{self.origin}\n{self.size}\n{root}\n".encode()


def _check_name(name: str) -> None:
    if not name or any(c.isspace() or c == "+" for c in name):
        raise ConfigError(f"invalid key name {name!r}: no spaces or '+' allowed")


def key_hash(name: str, public: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + _ED25519 + public).digest()[:4]


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


class NoteVerifier:
    """Checks signatures by one named Ed25519 key."""

    def __init__(self, name: str, public: Ed25519PublicKey) -> None:
        _check_name(name)
        self.name = name
        self.public = public
        self.hash = key_hash(name, _raw_public(public))

    @classmethod
    def from_vkey(cls, vkey: str) -> NoteVerifier:
        """Parse ``<name>+<hex hash>+<base64(0x01 || key)>``."""
        try:
            name, hex_hash, b64 = vkey.strip().split("+", 2)
            raw = base64.b64decode(b64, validate=True)
            if raw[:1] != _ED25519 or len(raw) != 33:
                raise ValueError("not an Ed25519 key")
            verifier = cls(name, Ed25519PublicKey.from_public_bytes(raw[1:]))
        except (ValueError, binascii.Error) as exc:
            raise ConfigError(f"not a verifier key: {exc}") from exc
        if verifier.hash.hex() != hex_hash.lower():
            raise ConfigError("verifier key hash does not match its name and key")
        return verifier

    def vkey(self) -> str:
        raw = base64.b64encode(_ED25519 + _raw_public(self.public)).decode()
        return f"{self.name}+{self.hash.hex()}+{raw}"

    def verify(self, note: str, *, origin: str | None = None) -> Checkpoint:
        """The checkpoint in ``note`` if this key signed it; else VerificationError."""
        body, signatures = _split(note)
        found = False
        for line in signatures:
            name, sig = _signature_line(line)
            if name != self.name or sig[:4] != self.hash:
                continue
            try:
                self.public.verify(sig[4:], body.encode())
            except InvalidSignature:
                raise VerificationError(f"bad signature by {name} on the checkpoint") from None
            found = True
        if not found:
            raise VerificationError(f"the checkpoint is not signed by {self.name}")
        checkpoint = parse_body(body)
        if origin is not None and checkpoint.origin != origin:
            raise VerificationError(f"checkpoint is for log {checkpoint.origin!r}, not {origin!r}")
        return checkpoint


class NoteSigner(NoteVerifier):
    """Signs checkpoints with an Ed25519 private key."""

    def __init__(self, name: str, private: Ed25519PrivateKey) -> None:
        super().__init__(name, private.public_key())
        self._private = private

    def sign(self, checkpoint: Checkpoint) -> str:
        if checkpoint.origin != self.name:
            raise ValueError("the checkpoint's origin must be the signer's key name")
        body = checkpoint.body()
        sig = base64.b64encode(self.hash + self._private.sign(body)).decode()
        return f"{body.decode()}\n{_DASH} {self.name} {sig}\n"

    @classmethod
    def load_or_create(cls, path: Path, name: str) -> NoteSigner:
        """The key in ``path`` (PKCS#8 PEM), created with mode 0600 if it is missing."""
        _check_name(name)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            pem = Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:  # another process created it first
                pass
            else:
                with os.fdopen(fd, "wb") as out:
                    out.write(pem)
        try:
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except (OSError, ValueError, TypeError) as exc:
            raise ConfigError(f"cannot read the audit log key {path}: {exc}") from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise ConfigError(f"{path} is not an Ed25519 private key")
        return cls(name, key)


def _split(note: str) -> tuple[str, list[str]]:
    if len(note) > MAX_NOTE:
        raise VerificationError("signed note is too large")
    body, sep, sigs = note.partition("\n\n")
    if not sep or not sigs.endswith("\n"):
        raise VerificationError("malformed signed note: no signature block")
    return body + "\n", sigs[:-1].split("\n")


def _signature_line(line: str) -> tuple[str, bytes]:
    parts = line.split(" ")
    if len(parts) != 3 or parts[0] != _DASH:
        raise VerificationError("malformed signature line in the signed note")
    try:
        sig = base64.b64decode(parts[2], validate=True)
    except binascii.Error:
        raise VerificationError("signature is not base64") from None
    if len(sig) < 5:
        raise VerificationError("signature is too short")
    return parts[1], sig


def parse_body(body: str) -> Checkpoint:
    lines = body.split("\n")
    if len(lines) < 4 or lines[-1] != "":
        raise VerificationError("malformed checkpoint: needs origin, size and root hash")
    origin, size_text, root_text = lines[0], lines[1], lines[2]
    if not size_text.isdigit() or (size_text != "0" and size_text.startswith("0")):
        raise VerificationError("malformed checkpoint: bad tree size")
    try:
        root = base64.b64decode(root_text, validate=True)
    except binascii.Error:
        raise VerificationError("malformed checkpoint: root hash is not base64") from None
    if len(root) != 32 or not origin:
        raise VerificationError("malformed checkpoint: bad origin or root hash")
    return Checkpoint(origin, int(size_text), root)
