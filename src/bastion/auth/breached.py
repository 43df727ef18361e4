"""Commonly breached passwords, from a compact list shipped in the package.

``data/breached-passwords.bin`` holds the first 4 bytes of SHA-1 of each of the 30,000
most common passwords of a public corpus, lower-cased, unique, sorted (120,000 bytes;
``scripts/build_breached_list.py`` builds it and names the source and its licence).
Looking a password up is a binary search over those prefixes.

False positives: a password not on the list matches a prefix with probability
30,000 / 2**32, about 7.0e-6 per form checked; :func:`is_breached` checks at most four
forms of a password, so at most 2.8e-5 (about one strong password in 36,000 is refused
and the user picks another). There are no false negatives for the listed passwords.

Besides the password itself (case-insensitive), the check refuses a listed password
decorated the usual ways: digits or symbols added before or after it (``Summer2024!``),
common letter-for-symbol swaps (``p@ssw0rd``), and one word repeated.
"""

from __future__ import annotations

import hashlib
from functools import cache
from importlib import resources

PREFIX_BYTES = 4
_MIN_CORE = 4  # a decorated core shorter than this is not judged by the list
_LEET = str.maketrans({"@": "a", "4": "a", "0": "o", "1": "i", "!": "i", "3": "e", "$": "s",
                       "5": "s", "7": "t", "+": "t"})  # fmt: skip
_DECORATION = "0123456789!@#$%^&*()-_=+[]{};:'\",.<>/?\\|`~ "


@cache
def _prefixes() -> bytes:
    data = resources.files("bastion.auth").joinpath("data/breached-passwords.bin").read_bytes()
    if len(data) % PREFIX_BYTES:
        raise RuntimeError("breached-passwords.bin is corrupt: reinstall Bastion")
    return data


def _listed(form: str) -> bool:
    digest = hashlib.sha1(form.encode("utf-8")).digest()[:PREFIX_BYTES]  # noqa: S324 - a lookup key
    data = _prefixes()
    lo, hi = 0, len(data) // PREFIX_BYTES
    while lo < hi:
        mid = (lo + hi) // 2
        probe = data[mid * PREFIX_BYTES : (mid + 1) * PREFIX_BYTES]
        if probe < digest:
            lo = mid + 1
        elif probe > digest:
            hi = mid
        else:
            return True
    return False


def _repeated_unit(text: str) -> str | None:
    for size in range(1, len(text) // 2 + 1):
        if len(text) % size == 0 and text[:size] * (len(text) // size) == text:
            return text[:size]
    return None


def candidate_forms(password: str) -> list[str]:
    """The forms of ``password`` looked up in the list (at most four)."""
    lowered = password.lower()
    forms = [lowered]
    core = lowered.strip(_DECORATION)
    if len(core) >= _MIN_CORE:
        forms.append(core)
    unleet = core.translate(_LEET)
    if len(unleet) >= _MIN_CORE:
        forms.append(unleet)
    unit = _repeated_unit(lowered)
    if unit is not None and len(unit) >= _MIN_CORE:
        forms.append(unit)
    return list(dict.fromkeys(forms))


def is_breached(password: str) -> bool:
    """True when ``password``, or a usual decoration of a listed one, is on the list."""
    return any(_listed(form) for form in candidate_forms(password))


def list_size() -> int:
    return len(_prefixes()) // PREFIX_BYTES
