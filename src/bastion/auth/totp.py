"""TOTP second factor (RFC 6238 through pyotp) and recovery codes.

:func:`matching_step` finds the time step a code belongs to within one step either side of
now; the caller stores that step for the user with a conditional UPDATE, so a code (or any
code of an earlier step) is accepted at most once even under concurrent logins.
Recovery codes carry about 74 random bits each, so a SHA-256 hash is enough to store them (no
salt or slow hash is needed against guessing at that entropy).
"""

from __future__ import annotations

import hashlib
import hmac
import io
import secrets
from dataclasses import dataclass

import pyotp

DIGITS = 6
STEP_SECONDS = 30
WINDOW = 1  # steps accepted either side of the current one (clock drift, typing time)
RECOVERY_CODES = 10
_CODE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i


@dataclass(frozen=True, slots=True)
class Enrolment:
    """What a user needs to set up an authenticator app. Show it once, over a secure channel."""

    secret: str  # base32
    uri: str  # otpauth://totp/...

    def qr_ascii(self) -> str:
        """The QR code drawn with block characters, for a terminal."""
        import qrcode  # type: ignore[import-untyped]

        qr = qrcode.QRCode(border=1)
        qr.add_data(self.uri)
        out = io.StringIO()
        qr.print_ascii(out=out, invert=True)
        return out.getvalue()

    def qr_png(self) -> bytes:
        import qrcode
        from qrcode.image.pure import PyPNGImage  # type: ignore[import-untyped]

        image = qrcode.make(self.uri, image_factory=PyPNGImage, border=2)
        out = io.BytesIO()
        image.save(out)
        return out.getvalue()


def new_enrolment(*, account: str, issuer: str) -> Enrolment:
    secret = pyotp.random_base32(length=32)  # 160 bits, as RFC 4226 recommends
    uri = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(
        name=account, issuer_name=issuer
    )
    return Enrolment(secret=secret, uri=uri)


def matching_step(secret: str, code: str, *, now: float) -> int | None:
    """The time step within ±:data:`WINDOW` whose code is ``code``, or None.

    Every candidate is compared in constant time and all are computed, whatever matches.
    """
    candidate = code.strip().replace(" ", "")
    if len(candidate) != DIGITS or not candidate.isdigit():
        return None
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)
    current = totp.timecode(now)
    found: int | None = None
    for step in range(current - WINDOW, current + WINDOW + 1):
        expected = totp.generate_otp(step)
        if hmac.compare_digest(expected.encode(), candidate.encode()) and found is None:
            found = step
    return found


def code_at(secret: str, now: float) -> str:
    """The current code (for tests and for an enrolment's self-check)."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).at(now)


def new_recovery_codes(count: int = RECOVERY_CODES) -> list[str]:
    """``count`` codes like ``k3m9q-7xwpt-a2hcn`` (15 characters of 31, about 74 bits)."""
    codes = []
    for _ in range(count):
        raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(15))
        codes.append(f"{raw[:5]}-{raw[5:10]}-{raw[10:]}")
    return codes


def hash_recovery_code(code: str) -> str:
    normal = code.strip().lower().replace("-", "").replace(" ", "")
    return hashlib.sha256(b"bastion-recovery:" + normal.encode()).hexdigest()
