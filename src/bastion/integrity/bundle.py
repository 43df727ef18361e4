"""Sigstore bundle v0.3 (JSON) holding a DSSE envelope, as model_signing writes it.

Key mode puts ``publicKey.hint`` (SHA-256 of the public key's PEM) in the verification
material; certificate mode puts ``x509CertificateChain`` (signing certificate first).
Neither has transparency-log entries. Parsing is strict and bounded; anything unexpected
is a :class:`BadBundleError`, never a pass.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bastion.errors import VerificationError
from bastion.integrity.statement import PAYLOAD_TYPE, loads

MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
#: A signature file bigger than this is refused before it is parsed.
MAX_BUNDLE_BYTES = 256 * 1024 * 1024
MAX_CERTIFICATES = 10


class BadBundleError(VerificationError):
    """The signature file is not a Sigstore bundle Bastion can verify."""

    hint = "The signature file is truncated, altered or of another kind; get it again."


@dataclass(frozen=True, slots=True)
class Bundle:
    """A parsed bundle: the DSSE payload and signature, and who claims to have signed."""

    payload_type: str
    payload: bytes
    signature: bytes
    key_hint: str | None = None
    certificates: tuple[bytes, ...] = ()


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding: what the signature covers."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def pae_v02(payload_type: str, payload: bytes) -> bytes:
    """model_signing 0.2's buggy PAE (str of bytes), still accepted by model_signing 1.x."""
    return f"DSSEV1 {len(payload_type)} {payload_type} {len(payload)} {payload!r}".encode()


def encode(bundle: Bundle) -> bytes:
    material: dict[str, Any]
    if bundle.certificates:
        material = {
            "x509CertificateChain": {
                "certificates": [
                    {"rawBytes": base64.b64encode(c).decode()} for c in bundle.certificates
                ]
            },
            "tlogEntries": [],
        }
    else:
        material = {"publicKey": {"hint": bundle.key_hint or ""}, "tlogEntries": []}
    doc = {
        "mediaType": MEDIA_TYPE,
        "verificationMaterial": material,
        "dsseEnvelope": {
            "payload": base64.b64encode(bundle.payload).decode(),
            "payloadType": bundle.payload_type,
            "signatures": [{"sig": base64.b64encode(bundle.signature).decode(), "keyid": ""}],
        },
    }
    return json.dumps(doc, separators=(",", ":")).encode()


def _b64(text: Any, where: str) -> bytes:
    if not isinstance(text, str):
        raise BadBundleError(f"{where} is not a base64 string")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise BadBundleError(f"{where} is not valid base64") from None


def _obj(parent: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = parent.get(key)
    if not isinstance(value, dict):
        raise BadBundleError(f"{where}.{key} is missing or not an object")
    return value


def decode(data: bytes) -> Bundle:
    """Parse bundle bytes; check structure only (signatures are checked by a Verifier)."""
    if len(data) > MAX_BUNDLE_BYTES:
        raise BadBundleError(f"signature file over {MAX_BUNDLE_BYTES} bytes")
    try:
        doc = loads(data, "the signature file")
    except VerificationError as exc:
        raise BadBundleError(exc.message) from None
    if not isinstance(doc, dict):
        raise BadBundleError("the signature file is not a JSON object")
    if doc.get("mediaType") != MEDIA_TYPE:
        raise BadBundleError(f"media type {doc.get('mediaType')!r}; expected {MEDIA_TYPE}")
    material = _obj(doc, "verificationMaterial", "bundle")
    envelope = _obj(doc, "dsseEnvelope", "bundle")
    if "messageSignature" in doc:
        raise BadBundleError("bundle has both a message signature and a DSSE envelope")
    if material.get("tlogEntries") not in (None, []) or "certificate" in material:
        raise BadBundleError(
            "Sigstore keyless bundles (Fulcio, Rekor) are not supported",
            hint="Verify those with `model_signing verify sigstore`.",
        )
    hint: str | None = None
    certs: tuple[bytes, ...] = ()
    if "publicKey" in material and "x509CertificateChain" in material:
        raise BadBundleError("bundle names both a public key and a certificate chain")
    if "publicKey" in material:
        raw_hint = _obj(material, "publicKey", "verificationMaterial").get("hint")
        if raw_hint is not None and not isinstance(raw_hint, str):
            raise BadBundleError("publicKey.hint is not a string")
        hint = raw_hint or None
    elif "x509CertificateChain" in material:
        chain = _obj(material, "x509CertificateChain", "verificationMaterial").get("certificates")
        if not isinstance(chain, list) or not chain or len(chain) > MAX_CERTIFICATES:
            raise BadBundleError("x509CertificateChain.certificates is empty or too long")
        certs = tuple(
            _b64(c.get("rawBytes") if isinstance(c, dict) else None, "certificate") for c in chain
        )
    else:
        raise BadBundleError("bundle has no public key or certificate chain")
    payload_type = envelope.get("payloadType")
    if payload_type != PAYLOAD_TYPE:
        raise BadBundleError(f"DSSE payload type {payload_type!r}; expected {PAYLOAD_TYPE}")
    signatures = envelope.get("signatures")
    if not isinstance(signatures, list) or len(signatures) != 1:
        raise BadBundleError("the DSSE envelope must hold exactly one signature")
    if not isinstance(signatures[0], dict):
        raise BadBundleError("the DSSE signature is not an object")
    signature = _b64(signatures[0].get("sig"), "the DSSE signature")
    payload = _b64(envelope.get("payload"), "the DSSE payload")
    if not signature or not payload:
        raise BadBundleError("the DSSE signature or payload is empty")
    return Bundle(payload_type, payload, signature, hint, certs)


def read(path: Path) -> Bundle:
    """Read and parse a signature file; a missing or huge file is a clear error."""
    try:
        with open(path, "rb") as stream:
            data = stream.read(MAX_BUNDLE_BYTES + 1)
    except OSError as exc:
        raise BadBundleError(
            f"cannot read signature {path}: {exc.strerror or exc}",
            hint="Give the signature file with --signature, or sign the model first.",
        ) from None
    return decode(data)


def write(path: Path, bundle: Bundle) -> None:
    """Write atomically: a crash never leaves half a signature file."""
    import os
    import tempfile

    folder = path.parent
    fd, tmp = tempfile.mkstemp(prefix=".bastion-sig-", dir=folder)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(encode(bundle))
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
