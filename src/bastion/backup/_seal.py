"""Key material in a backup, sealed with the operator's passphrase.

The secrets a restore needs (the key-encryption key file, the audit log's signing key,
the identity secret box key, the TLS private key, the settings file) are put in one JSON
document, encrypted with AES-256-GCM under a key derived from the passphrase with scrypt
(N=2**15, r=8, p=1; a fresh 16-byte salt per backup). Without the passphrase the backup's
blobs and wrapped data keys are useless, which is the point: keep the passphrase elsewhere.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from bastion.backup.base import BackupError
from bastion.errors import IntegrityError

FORMAT = "bastion-backup-keys/1"
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
MIN_PASSPHRASE = 12


def _derive(passphrase: bytes, salt: bytes, n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase)


def seal(files: Mapping[str, bytes], passphrase: bytes) -> bytes:
    """The encrypted document holding ``files`` (relative path -> bytes)."""
    if len(passphrase) < MIN_PASSPHRASE:
        raise BackupError(
            f"the backup passphrase must be at least {MIN_PASSPHRASE} characters",
            hint="Use a long random passphrase and keep it outside the server (a vault).",
        )
    salt, nonce = os.urandom(16), os.urandom(12)
    key = _derive(passphrase, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    plain = json.dumps(
        {name: base64.b64encode(data).decode() for name, data in sorted(files.items())}
    ).encode()
    header = {"format": FORMAT, "kdf": "scrypt", "n": SCRYPT_N, "r": SCRYPT_R, "p": SCRYPT_P}
    header["salt"] = base64.b64encode(salt).decode()
    header["nonce"] = base64.b64encode(nonce).decode()
    aad = json.dumps(header, sort_keys=True).encode()
    sealed = AESGCM(key).encrypt(nonce, plain, aad)
    return json.dumps({"header": header, "sealed": base64.b64encode(sealed).decode()}).encode()


def unseal(document: bytes, passphrase: bytes) -> dict[str, bytes]:
    """The files sealed in ``document``; a wrong passphrase or an edit raises IntegrityError."""
    try:
        doc = json.loads(document)
        header = doc["header"]
        if header["format"] != FORMAT or header["kdf"] != "scrypt":
            raise ValueError("unknown key bundle format")
        n, r, p = int(header["n"]), int(header["r"]), int(header["p"])
        if not (2**14 <= n <= 2**20 and 1 <= r <= 16 and 1 <= p <= 4):
            raise ValueError("scrypt parameters out of range")
        salt = base64.b64decode(header["salt"], validate=True)
        nonce = base64.b64decode(header["nonce"], validate=True)
        sealed = base64.b64decode(doc["sealed"], validate=True)
    except (ValueError, KeyError, TypeError) as exc:
        raise IntegrityError(f"the backup's key bundle is malformed: {exc}") from None
    key = _derive(passphrase, salt, n, r, p)
    aad = json.dumps(header, sort_keys=True).encode()
    try:
        plain = AESGCM(key).decrypt(nonce, sealed, aad)
    except InvalidTag:
        raise IntegrityError(
            "cannot open the backup's key bundle: wrong passphrase, or the bundle was altered",
            hint="Give the passphrase the backup was made with.",
        ) from None
    return {name: base64.b64decode(data) for name, data in json.loads(plain).items()}
