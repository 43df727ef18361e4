"""Encoded payloads: base64, base32, Ascii85/base85, hex, URL and quoted-printable
encoding, HTML entities, uuencode, byte lists (binary, decimal, octal), Morse, Braille,
the NATO alphabet, Caesar shifts (ROT13 among them) and Atbash, leetspeak, reversed and
spaced text.

:func:`expand` finds encoded segments, decodes those that turn into readable text and
recurses into the result, within bounds on depth, count and size, so a hostile input
cannot make it loop or allocate without limit. The rule hands the decoded views to
the later rules, which check them as they check the text itself.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import html
import math
import quopri
import re
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import ClassVar

from bastion.guard.anchors import AnchorSet
from bastion.guard.base import Context, Direction, RuleResult

_B64 = re.compile(r"(?<![A-Za-z0-9+/=_-])[A-Za-z0-9+/_-]{16,}={0,6}(?![A-Za-z0-9+/=_-])")
_HEX = re.compile(r"(?<![0-9A-Fa-f])(?:(?:\\x|0x)?[0-9A-Fa-f]{2}[\s:,-]?){8,}")
#: Eight hex pairs as ``_HEX`` joins them, from the first pair on: every match of
#: ``_HEX`` contains one, and a search for it skips ahead to a hex digit, where
#: ``_HEX`` (which starts with a look-behind) is tried at every position.
_HEX_CORE = re.compile(r"[0-9A-Fa-f][0-9A-Fa-f](?:[\s:,-]?(?:\\x|0x)?[0-9A-Fa-f]{2}){7}")
_PCT = re.compile(r"%[0-9A-Fa-f]{2}")
_PCT_RUN = re.compile(
    r"[^\s%]*(?:%[0-9A-Fa-f]{2}[^\s%]*){3,}(?:\s+[^\s%]*(?:%[0-9A-Fa-f]{2}[^\s%]*)+)*"
)
_SPACED = re.compile(r"\b(?:[A-Za-z][-_.*]){1,}[A-Za-z]\b|\b(?:[A-Za-z] ){3,}[A-Za-z]\b")
_LEET_WORD = re.compile(
    r"(?<![\w@$!|])(?=[A-Za-z0-9@$!|]*[A-Za-z])(?=[A-Za-z0-9@$!|]*[0-9@$!|])[A-Za-z0-9@$!|]{2,}(?![\w@$!|])"
)
_LEET = str.maketrans("0134578@$!|", "oieastbasil")
_WORDS_RE = re.compile(r"[a-z]+")
_WORD = re.compile(r"\w+")
_SEGMENTS = re.compile(r"\n+|(?<=[.!?:])\s+")
#: Frequent English words: decoded text that contains them reads as language.
_COMMON = frozenset(
    [
        "the",
        "be",
        "to",
        "of",
        "and",
        "a",
        "in",
        "that",
        "have",
        "i",
        "it",
        "for",
        "not",
        "on",
        "with",
        "he",
        "as",
        "you",
        "do",
        "at",
        "this",
        "but",
        "his",
        "by",
        "from",
        "they",
        "we",
        "say",
        "her",
        "she",
        "or",
        "an",
        "will",
        "my",
        "one",
        "all",
        "would",
        "there",
        "their",
        "what",
        "so",
        "up",
        "out",
        "if",
        "about",
        "who",
        "get",
        "which",
        "go",
        "me",
        "when",
        "make",
        "can",
        "like",
        "time",
        "no",
        "just",
        "him",
        "know",
        "take",
        "people",
        "into",
        "year",
        "your",
        "good",
        "some",
        "could",
        "them",
        "see",
        "other",
        "than",
        "then",
        "now",
        "look",
        "only",
        "come",
        "its",
        "over",
        "think",
        "also",
        "back",
        "after",
        "use",
        "two",
        "how",
        "our",
        "work",
        "first",
        "well",
        "way",
        "even",
        "new",
        "want",
        "because",
        "any",
        "these",
        "give",
        "day",
        "most",
        "us",
        "is",
        "are",
        "was",
        "were",
        "how",
        "tell",
        "write",
        "explain",
        "ignore",
        "instructions",
        "previous",
        "all",
        "system",
        "prompt",
        "steps",
        "make",
        "create",
        "please",
        "must",
        "should",
        "from",
        "here",
        "below",
        "above",
        "reveal",
        "password",
        "secret",
    ]
)


@dataclass(frozen=True, slots=True)
class Decoded:
    """One decoded view: the text and the chain of decoders that produced it."""

    text: str
    chain: tuple[str, ...]


_IS_COMMON = _COMMON.__contains__


def _english(text: str) -> float:
    words = _WORDS_RE.findall(text.lower())
    if len(words) < 3:
        return 0.0
    return sum(map(_IS_COMMON, words)) / len(words)


class _Text:
    """One text being decoded, with what several decoders need computed once."""

    __slots__ = ("_b64_runs", "_gibberish", "_lower", "_segments", "_tokens", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self._segments: list[str] | None = None
        self._gibberish: list[tuple[str, float | None]] | None = None
        self._lower: str | None = None
        self._tokens: list[str] | None = None
        self._b64_runs: list[str] | None = None

    @property
    def long_tokens(self) -> list[str]:
        """Runs of 16 or more characters without white space (from ``str.split``, which
        is far cheaper than a pattern tried at every position)."""
        if self._tokens is None:
            self._tokens = [t for t in self.text.split() if len(t) >= 16]
        return self._tokens

    @property
    def b64_runs(self) -> list[str]:
        """What base64 and base32 are tried on: ``_B64`` matches, looked for only in the
        long tokens (a match has 16 characters or more and no white space)."""
        if self._b64_runs is None:
            self._b64_runs = [m.group() for t in self.long_tokens for m in _B64.finditer(t)]
        return self._b64_runs

    @property
    def lower(self) -> str:
        if self._lower is None:
            self._lower = self.text.lower()
        return self._lower

    @property
    def segments(self) -> list[str]:
        """Lines and sentences."""
        if self._segments is None:
            self._segments = _SEGMENTS.split(self.text)
        return self._segments

    @property
    def gibberish(self) -> list[tuple[str, float | None]]:
        """What ROT13 and reversal are tried on: the whole text when it does not read as
        English, and lines or sentences that are themselves gibberish inside a text that
        is not; at most 16, each with its English score when known."""
        if self._gibberish is None:
            text = self.text
            found: list[tuple[str, float | None]] = (
                [(text, None)] if _english(text[:4000]) < 0.25 else []
            )
            for s in self.segments:
                if len(s) > 24:
                    score = _english(s)
                    if score < 0.1:
                        found.append((s, score))
                        if len(found) >= 16:
                            break
            self._gibberish = found[:16]
        return self._gibberish


def _readable(data: bytes) -> str | None:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if len(text) < 6:
        return None
    printable = sum(c.isprintable() or c in "\n\t\r" for c in text)
    letters = sum(c.isalpha() for c in text)
    if (
        printable < 0.95 * len(text)
        or letters < 0.5 * len(text.replace(" ", ""))
        or " " not in text
    ):
        return None
    return text


def _base64(item: _Text) -> list[str]:
    out = []
    for seg in item.b64_runs:
        if seg.isalpha() and (seg.islower() or seg.isupper()):
            continue  # a plain long word, not base64
        padded = seg + "=" * (-len(seg) % 4)
        try:
            data = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
        except (binascii.Error, ValueError):
            continue
        decoded = _readable(data) or _nested(data)
        if decoded is not None:
            out.append(decoded)
    return out


def _nested(data: bytes) -> str | None:
    """Decoded bytes that are themselves base64 or hex: kept for the next round."""
    try:
        text = data.decode("ascii").strip()
    except UnicodeDecodeError:
        return None
    return text if _B64.fullmatch(text) or _HEX.fullmatch(text) else None


def _hex(item: _Text) -> list[str]:
    text = item.text
    if _HEX_CORE.search(text) is None:
        return []
    out = []
    for m in _HEX.finditer(text):
        digits = re.sub(r"\\x|0x|[\s:,-]", "", m.group())
        if len(digits) % 2:
            digits = digits[:-1]
        try:
            decoded = _readable(bytes.fromhex(digits))
        except ValueError:
            continue
        if decoded is not None:
            out.append(decoded)
    return out


def _url(item: _Text) -> list[str]:
    text = item.text
    if len(_PCT.findall(text)) < 3:
        return []
    runs = [urllib.parse.unquote_plus(m.group()) for m in _PCT_RUN.finditer(text)]
    return ["\n".join(runs)] if runs else []


def _flipped(item: _Text, flip: Callable[[str], str]) -> list[str]:
    """``flip(text)`` when it reads as English and ``text`` does not.

    Text that reads as English already is checked for flipped segments only, so a
    normal prompt costs one word count, not a transform of the whole text.
    """
    out = []
    for segment, before in item.gibberish:
        flipped = flip(segment)
        if _reads_better(flipped, _english(flipped), segment, before):
            out.append(flipped)
    return out


def _reads_better(flipped: str, after: float, segment: str, before: float | None) -> bool:
    """Whether ``flipped`` (English score ``after``) reads as English and the segment
    it came from (score ``before``, worked out here when not known) does not."""
    if after < 0.3:
        return False
    if before is None:
        before = _english(segment)
    return after > before + 0.2 and len(_WORDS_RE.findall(flipped)) >= 5


def _rot13(item: _Text) -> list[str]:
    return _flipped(item, lambda t: codecs.encode(t, "rot13"))


#: English letter frequencies (per mille), a to z: what picks a Caesar shift to try.
_LETTER_FREQ = (82, 15, 28, 43, 127, 22, 20, 61, 70, 2, 8, 40, 24, 67, 75, 19, 1, 60, 63, 91,
                28, 10, 24, 2, 20, 1)  # fmt: skip
_LOG_FREQ = tuple(math.log(f) for f in _LETTER_FREQ)
_LOWER = "abcdefghijklmnopqrstuvwxyz"
_UPPER = _LOWER.upper()
_LETTERS_AND_SPACE = str.maketrans(dict.fromkeys(_LOWER + _UPPER + " "))
_ATBASH = str.maketrans(_LOWER + _UPPER, _LOWER[::-1] + _UPPER[::-1])


def _shift_table(k: int) -> dict[int, int]:
    return str.maketrans(_LOWER + _UPPER, _LOWER[k:] + _LOWER[:k] + _UPPER[k:] + _UPPER[:k])


_SHIFTS = tuple(_shift_table(k) for k in range(26))
#: (shift, log frequency of the letter each letter decodes to): every shift, and Atbash
#: as -1 (``k % 13`` leaves out shifts 0 and 13).
_SHIFT_SCORES = (
    *((k, tuple(_LOG_FREQ[(i + k) % 26] for i in range(26))) for k in range(26)),
    (-1, tuple(_LOG_FREQ[25 - i] for i in range(26))),
)


def _caesar(item: _Text) -> list[str]:
    """Caesar shifts other than ROT13 (its own decoder), and Atbash: for each gibberish
    segment, the three transforms whose letter counts look most like English are read,
    not all 25 (a sentence of ordinary English is enough for the counts to find it)."""
    out = []
    for segment, before in item.gibberish:
        # Shifted prose keeps its spaces: letters and spaces make up nearly all of it.
        if len(segment.translate(_LETTERS_AND_SPACE)) > 0.1 * len(segment):
            continue
        low = segment.lower()
        counts = [low.count(c) for c in _LOWER]
        if sum(counts) < 12:
            continue
        # Decoding by shift k maps a letter i to (i + k) % 26; each shift (and Atbash) is
        # scored on the six most frequent letters. No shift at all, and ROT13, are left
        # to the other decoders.
        present = sorted(((n, i) for i, n in enumerate(counts) if n), reverse=True)[:6]
        ranked = sorted(
            ((sum(n * row[i] for n, i in present), k) for k, row in _SHIFT_SCORES if k % 13),
            reverse=True,
        )
        # Short or repetitive text can mislead the counts: the best three are read.
        best, after = "", 0.0
        for _, k in ranked[:3]:
            flipped = segment.translate(_ATBASH if k < 0 else _SHIFTS[k])
            score = _english(flipped)
            if score > after:
                best, after = flipped, score
        if _reads_better(best, after, segment, before):
            out.append(best)
    return out


def _reversed(item: _Text) -> list[str]:
    return _flipped(item, lambda t: t[::-1])


def _is_leet(word: str) -> bool:
    return not word.isdigit() and "@" not in word[1:-1] and not word.isalpha()


def _leet(item: _Text) -> list[str]:
    """Sentences written mostly in leetspeak, decoded; the rest of the text is left out."""
    # A leet word is a whole run of word characters, so it never spans the whitespace
    # between segments: one pass over the text finds every segment's words, and only
    # segments with two or more are looked at.
    text = item.text
    starts = [m.start() for m in _LEET_WORD.finditer(text) if _is_leet(m.group())]
    if len(starts) < 2:
        return []
    out = []
    seg_start, k = 0, 0
    ends = [(m.start(), m.end()) for m in _SEGMENTS.finditer(text)]
    ends.append((len(text), len(text)))
    for seg_end, next_start in ends:
        n = 0
        while k < len(starts) and starts[k] < seg_end:
            n += starts[k] >= seg_start
            k += 1
        if n >= 2:
            seg = text[seg_start:seg_end]
            if n >= 0.25 * max(1, len(_WORD.findall(seg))):
                decoded = _LEET_WORD.sub(lambda m: m.group().translate(_LEET), seg)
                if _english(decoded) > _english(seg):
                    out.append(decoded)
        seg_start = next_start
    return ["\n".join(out)] if out else []


def _spaced(item: _Text) -> list[str]:
    """Sentences with words spelt out letter by letter (h-o-w t-o), joined up."""
    # As for leetspeak: no match spans the whitespace between segments.
    if len(_SPACED.findall(item.text)) < 3:
        return []
    out = []
    for seg in item.segments:
        if len(_SPACED.findall(seg)) >= 3:
            out.append(_SPACED.sub(lambda m: re.sub(r"[-_.* ]", "", m.group()), seg))
    return ["\n".join(out)] if out else []


_B32 = re.compile(r"(?:[A-Z2-7]{16,}|[a-z2-7]{16,})={0,6}")


def _base32(item: _Text) -> list[str]:
    out = []
    for run in item.b64_runs:  # base32's alphabet is part of base64's
        m = _B32.fullmatch(run)
        if m is None:
            continue
        seg = run.rstrip("=")
        try:
            data = base64.b32decode(seg + "=" * (-len(seg) % 8), casefold=True)
        except (binascii.Error, ValueError):
            continue
        decoded = _readable(data) or _nested(data)
        if decoded is not None:
            out.append(decoded)
    return out


_A85_ADOBE = re.compile(r"<~(.{10,}?)~>", re.DOTALL)
#: A run that could be Ascii85 or base85 (RFC 1924): printable, no space, some characters
#: that base64 never uses. Decoding the rare candidate is what tells encoded text apart.
_B85_RUN = re.compile(r"[!-~]{20,}")
_NOT_ALNUM = re.compile(r"[^A-Za-z0-9]")
_A85_ALPHABET = re.compile(r"[!-uz]+")
_B85_ALPHABET = re.compile(r"[0-9A-Za-z!#$%&()*+\-;<=>?@^_`{|}~]+")


def _base85(item: _Text) -> list[str]:
    text = item.text
    out = []
    for m in _A85_ADOBE.finditer(text) if "<~" in text else ():
        try:
            data = base64.a85decode(m.group(1), ignorechars=b" \t\n\r\v")
        except (ValueError, TypeError):
            continue
        decoded = _readable(data) or _nested(data)
        if decoded is not None:
            out.append(decoded)
    runs = (
        m.group()
        for t in item.long_tokens
        if len(t) >= 20 and "://" not in t
        for m in _B85_RUN.finditer(t)
    )
    for k, seg in enumerate(runs):
        if k >= 16:
            break
        symbols = len(_NOT_ALNUM.findall(seg))
        # Each alphabet has its own characters: a token that uses others is not in it.
        # Encoded text mixes cases and has some punctuation (Ascii85's alphabet is a
        # third punctuation; RFC 1924's fewer, and text encodes to fewer still).
        decoders: list[Callable[[bytes], bytes]] = []
        if symbols * 10 >= len(seg) and _A85_ALPHABET.fullmatch(seg):
            decoders.append(base64.a85decode)
        if symbols and _B85_ALPHABET.fullmatch(seg) and not seg.islower() and not seg.isupper():
            decoders.append(base64.b85decode)
        for decode in decoders:
            try:  # the decoders are pure Python: 4,000 characters decode in about 1 ms
                data = decode(seg[:4000].encode())
            except (ValueError, TypeError):
                continue
            decoded = _readable(data) or _nested(data)
            if decoded is not None:
                out.append(decoded)
                break
    return out


_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")


def _entities(item: _Text) -> list[str]:
    """HTML character references (``&#73;``, ``&#x49;``, ``&lt;``), resolved."""
    text = item.text
    if text.count("&") < 3 or len(_ENTITY.findall(text, 0, 20_000)) < 3:
        return []
    decoded = html.unescape(text)
    return [decoded] if decoded != text else []


_QP = re.compile(r"=[0-9A-F]{2}")
_QP_JOINED = re.compile(r"=[0-9A-F]{2}(?=[A-Za-z=]|$)")


def _quoted_printable(item: _Text) -> list[str]:
    """Lines written in quoted-printable (``Ignore=20all=20...``), decoded. A line counts
    when three of its ``=XX`` codes run into a letter or the next code, as encoded text
    does; code such as ``timeout=10)`` or ``x=100`` has codes too, but not those."""
    text = item.text
    if text.count("=") < 3 or len(_QP.findall(text, 0, 20_000)) < 3:
        return []
    out = []
    # soft line breaks ("=" at the end of a line) join a line to the next
    for line in text[:20_000].replace("=\r\n", "").replace("=\n", "").splitlines():
        if len(_QP_JOINED.findall(line)) < 3:
            continue
        try:
            data = quopri.decodestring(line.encode("utf-8"))
        except (ValueError, UnicodeEncodeError):
            continue
        decoded = _readable(data)
        if decoded is not None:
            out.append(decoded)
    return ["\n".join(out)] if out else []


def _uu_line(line: str) -> bytes | None:
    """One uuencoded line (a length character, then 4 characters per 3 bytes), or
    None; what follows the encoded characters must be padding."""
    n = ord(line[0]) - 32
    need = (n + 2) // 3 * 4
    if not 0 < n <= 45 or len(line) - 1 < need or line[1 + need :].strip(" `"):
        return None
    if any(not " " <= c <= "`" for c in line[: 1 + need]):
        return None
    try:
        return binascii.a2b_uu(line[: 1 + need])
    except (binascii.Error, ValueError):
        return None


#: A run of uuencode's characters (no lower case) to the end of a line, at its start or
#: after a space: where an encoded line can be.
_UU_RUN = re.compile(r"(?:^|(?<= ))[!-M][ -`]{4,}$", re.MULTILINE)


def _uu(item: _Text) -> list[str]:
    """uuencoded lines (``binascii.b2a_uu``), decoded and joined. A line may start with
    other text (``Decode this: M26=N...``): the encoded part is then a suffix after a
    space whose length matches its length character."""
    if not any(t.upper() == t != t.lower() for t in item.long_tokens):
        return []  # an encoded line has a long stretch without lower case or spaces
    chunks: list[bytes] = []
    for k, m in enumerate(_UU_RUN.finditer(item.text, 0, 20_000)):
        if k >= 256:
            break  # a hostile text of many short upper-case lines costs no more than this
        run = m.group().rstrip("\r")
        if len(run) < 8 and not chunks:
            continue  # a short line only as the last of an encoded block
        data = _uu_line(run)
        if data is None:  # upper-case words before the encoded part: try after a space
            for k, space in enumerate(re.finditer(" ", run)):
                rest = run[space.end() :]
                if k >= 16 or len(rest) < 8:
                    break
                if "!" <= rest[0] <= "M":
                    data = _uu_line(rest)
                    if data is not None:
                        break
        if data is not None:
            chunks.append(data)
    if not chunks:
        return []
    decoded = _readable(b"".join(chunks))
    return [decoded] if decoded is not None else []


_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")


def _gaps(shape: bytes) -> int:
    return shape.count(b"0 0") + shape.count(b"0,0") + shape.count(b"0, 0")


_BITS = re.compile(r"(?<![01])[01]{8}(?:[\s,]+[01]{8}){5,}(?![01])")
_NUMBERS = re.compile(r"(?<![\d.])\d{1,3}(?:[\s,]+\d{1,3}){7,}(?![\d.])")


def _byte_lists(item: _Text) -> list[str]:
    """Bytes written as numbers: ``01001001 01100111`` (binary), ``73 103`` (decimal),
    ``111 147`` (octal)."""
    text = item.text[:20_000]
    out: list[str] = []
    # Eight numbers in a row have seven gaps between digits: count those first, in the
    # whole text and then in each line, and run the patterns on the lines that have them.
    # (bytes.translate with a table is far cheaper than str.translate or a pattern)
    mapped = text.encode("utf-8", "replace").translate(_DIGITS_AS_ZERO)
    if _gaps(mapped) < 7:
        return out
    # UTF-8 keeps every "\n" a byte of its own, so the text's lines and the mapped
    # bytes' lines pair up.
    lines = [
        line
        for line, shape in zip(text.split("\n"), mapped.split(b"\n"), strict=True)
        if _gaps(shape) >= 7
    ]
    for line in lines:
        for m in _BITS.finditer(line) if line.count("0") + line.count("1") >= 48 else ():
            data = bytes(int(b, 2) for b in re.split(r"[\s,]+", m.group()))
            decoded = _readable(data)
            if decoded is not None:
                out.append(decoded)
        for m in _NUMBERS.finditer(line):
            numbers = re.split(r"[\s,]+", m.group())
            for base in (10, 8):
                try:
                    values = [int(n, base) for n in numbers]
                except ValueError:
                    continue
                if max(values) > 255:
                    continue
                decoded = _readable(bytes(values))
                if decoded is not None:
                    out.append(decoded)
                    break
    return out


_MORSE_TABLE = {
    ".-": "a", "-...": "b", "-.-.": "c", "-..": "d", ".": "e", "..-.": "f", "--.": "g",
    "....": "h", "..": "i", ".---": "j", "-.-": "k", ".-..": "l", "--": "m", "-.": "n",
    "---": "o", ".--.": "p", "--.-": "q", ".-.": "r", "...": "s", "-": "t", "..-": "u",
    "...-": "v", ".--": "w", "-..-": "x", "-.--": "y", "--..": "z", "-----": "0",
    ".----": "1", "..---": "2", "...--": "3", "....-": "4", ".....": "5", "-....": "6",
    "--...": "7", "---..": "8", "----.": "9", ".-.-.-": ".", "--..--": ",", "..--..": "?",
    ".----.": "'", "-.-.--": "!", "-..-.": "/", "---...": ":", "-.-.-.": ";", "-...-": "=",
    ".-.-.": "+", "-....-": "-", ".-..-.": '"', ".--.-.": "@",
}  # fmt: skip
_MORSE_SIGNS = str.maketrans({"·": ".", "•": ".", "∙": ".", "−": "-", "–": "-", "—": "-"})
_MORSE_RUN = re.compile(r"(?:[.-]{1,7}(?:[ \t]+|[ \t]*[/|][ \t]*)){7,}[.-]{1,7}")


def _morse(item: _Text) -> list[str]:
    text = item.text
    if "·" in text or "•" in text or "∙" in text:
        text = text.translate(_MORSE_SIGNS)
    # Morse of a few words has dots next to dashes, and codes that start after a space
    if text.count(".-") + text.count("-.") < 3 or text.count(" .") + text.count(" -") < 6:
        return []
    out = []
    for m in _MORSE_RUN.finditer(text):
        words = []
        for word in re.split(r"[ \t]*[/|][ \t]*|[ \t]{3,}", m.group()):
            letters = [_MORSE_TABLE.get(code) for code in word.split()]
            if None in letters:
                break
            words.append("".join(letters))  # type: ignore[arg-type]
        else:
            decoded = " ".join(w for w in words if w)
            if _english(decoded) >= 0.2 or len(decoded) >= 24:
                out.append(decoded)
    return out


# Grade-1 Braille: letters, the capital and number signs, common punctuation.
_BRAILLE_LETTERS = "⠁⠃⠉⠙⠑⠋⠛⠓⠊⠚⠅⠇⠍⠝⠕⠏⠟⠗⠎⠞⠥⠧⠺⠭⠽⠵"
_BRAILLE = {cell: chr(ord("a") + i) for i, cell in enumerate(_BRAILLE_LETTERS)}
_BRAILLE.update({"⠀": " ", "⠂": ",", "⠲": ".", "⠖": "!", "⠦": "?", "⠄": "'", "⠆": ";", "⠒": ":"})
_BRAILLE_CELL = re.compile("[\u2800-\u28ff]")
_BRAILLE_DIGITS = dict(zip(_BRAILLE_LETTERS[:10], "1234567890", strict=True))


def _braille(item: _Text) -> list[str]:
    text = item.text
    if text.isascii() or len(_BRAILLE_CELL.findall(text, 0, 20_000)) < 8:
        return []
    out: list[str] = []
    capital = number = False
    for c in text:
        if c == "⠠":
            capital = True
            continue
        if c == "⠼":
            number = True
            continue
        if number and c in _BRAILLE_DIGITS:
            out.append(_BRAILLE_DIGITS[c])
            continue
        number = False
        letter = _BRAILLE.get(c, c)
        out.append(letter.upper() if capital else letter)
        capital = False
    return ["".join(out)]


_NATO = {
    "alfa": "a", "alpha": "a", "bravo": "b", "charlie": "c", "delta": "d", "echo": "e",
    "foxtrot": "f", "golf": "g", "hotel": "h", "india": "i", "juliett": "j", "juliet": "j",
    "kilo": "k", "lima": "l", "mike": "m", "november": "n", "oscar": "o", "papa": "p",
    "quebec": "q", "romeo": "r", "sierra": "s", "tango": "t", "uniform": "u", "victor": "v",
    "whiskey": "w", "whisky": "w", "xray": "x", "x-ray": "x", "yankee": "y", "zulu": "z",
}  # fmt: skip
#: Letters any spelt sentence uses, looked for before the full pattern is run.
_NATO_COMMON = ("alfa", "alpha", "echo", "india", "oscar", "sierra", "tango", "romeo", "lima",
                "november", "delta", "hotel", "uniform", "papa", "mike")  # fmt: skip
_NATO_RUN = re.compile(
    r"\b(?:(?:" + "|".join(sorted(_NATO, key=len, reverse=True)) + r")\b[\s,/|]*){8,}",
    re.IGNORECASE,
)


def _nato(item: _Text) -> list[str]:
    """Letters spelt in the NATO alphabet; a ``/``, ``|`` or a line break between words
    marks a space. Where an encoder dropped the spaces the letters come out run
    together, and :func:`_split_words` cuts them into known words when it can."""
    text = item.text
    lower = item.lower
    # A spelt sentence has an e or an o; then four letters of the common ones.
    if ("echo" not in lower and "oscar" not in lower) or sum(
        word in lower for word in _NATO_COMMON
    ) < 4:
        return []
    out = []
    for k, m in enumerate(_NATO_RUN.finditer(text)):
        if k >= 8:
            break
        words = []
        for group in re.split(r"\s*[/|\n]\s*", m.group()):
            letters = [_NATO.get(w.lower(), "") for w in re.findall(r"[A-Za-z-]+", group)]
            words.append("".join(letters))
        decoded = " ".join(w for w in words if w)
        if " " not in decoded:
            decoded = _split_words(decoded) or decoded
        out.append(decoded)
    return out


#: Words a run-together decoded text is cut into: the frequent English words above,
#: and the verbs and nouns of instructions aimed at a model.
_SPLIT_WORDS = _COMMON | frozenset(
    [
        "ignore",
        "ignoring",
        "disregard",
        "forget",
        "previous",
        "prior",
        "above",
        "earlier",
        "instruction",
        "instructions",
        "rules",
        "rule",
        "guidelines",
        "prompt",
        "system",
        "reveal",
        "print",
        "show",
        "output",
        "repeat",
        "say",
        "tell",
        "password",
        "secret",
        "secrets",
        "key",
        "keys",
        "hidden",
        "confidential",
        "everything",
        "anything",
        "nothing",
        "new",
        "now",
        "must",
        "instead",
        "act",
        "pretend",
        "developer",
        "mode",
        "admin",
        "override",
        "bypass",
        "filter",
        "filters",
        "restrictions",
        "unrestricted",
        "jailbreak",
        "unfiltered",
        "respond",
        "answer",
        "only",
        "always",
        "never",
        "do",
        "dont",
        "don't",
        "write",
        "code",
        "script",
        "delete",
        "drop",
        "table",
        "run",
        "execute",
        "command",
        "commands",
        "shell",
        "send",
        "email",
        "data",
        "user",
        "users",
        "token",
        "tokens",
        "api",
        "credentials",
        "private",
        "internal",
        "policy",
        "policies",
        "safety",
        "content",
        "you",
        "your",
        "are",
        "is",
        "the",
        "and",
        "all",
        "to",
        "of",
        "a",
        "an",
        "me",
        "my",
    ]
)


def _split_words(letters: str) -> str | None:
    """``letters`` cut into the fewest known words (dynamic programming), or None when
    some stretch is no known word; words up to 16 letters, text up to 2,000."""
    letters = letters.lower()
    if len(letters) > 2000:
        return None
    n = len(letters)
    best: list[tuple[int, int] | None] = [None] * (n + 1)  # (words so far, start) per end
    best[0] = (0, 0)
    for end in range(1, n + 1):
        for start in range(max(0, end - 16), end):
            prev = best[start]
            if prev is not None and letters[start:end] in _SPLIT_WORDS:
                cand = (prev[0] + 1, start)
                if best[end] is None or cand[0] < best[end][0]:  # type: ignore[index]
                    best[end] = cand
    if best[n] is None:
        return None
    words = []
    end = n
    while end:
        start = best[end][1]  # type: ignore[index]
        words.append(letters[start:end])
        end = start
    return " ".join(reversed(words))


#: Words an injection is made of, looked for inside text whose words were cut up
#: ("Ign ore prev ious instru ctions").
_CUT_KEYWORDS = ("ignore", "disregard", "previous", "instructions", "prompt", "reveal",
                 "system", "password", "secret", "jailbreak", "unrestricted", "override",
                 "forget", "rules", "guidelines")  # fmt: skip
_CUT_KEYWORD_RE = re.compile("(" + "|".join(_CUT_KEYWORDS) + ")")


def _rejoined(item: _Text) -> list[str]:
    """Sentences whose words were cut into pieces, joined up again: a sentence counts
    when two of the injection words above appear once its spaces are removed but not
    as words of it. The joined letters are cut into known words where they can be,
    else spaced around the injection words."""
    lower = item.lower
    joined_all = lower.replace(" ", "")
    if not any(k in joined_all and k not in lower for k in _CUT_KEYWORDS):
        return []  # every injection word that is there is there whole
    out: list[str] = []
    for segment in item.segments[:64]:
        if len(segment) > 400 or segment.count(" ") < 4:
            continue
        words = segment.lower().split()
        joined = "".join(words)
        hidden = [k for k in _CUT_KEYWORDS if k in joined and k not in words]
        if len(hidden) < 2 or not any(k not in segment.lower() for k in hidden):
            continue
        if len(out) >= 8:
            break  # each costs a word split of up to 400 letters
        letters = re.sub(r"[^a-z]", "", joined)
        split = _split_words(letters)
        out.append(split if split is not None else _CUT_KEYWORD_RE.sub(r" \1 ", letters).strip())
    return ["\n".join(out)] if out else []


#: Where words were run together: an underscore, dot, plus, star, bar or tilde between
#: letters, or a capital after a small letter (camel case). Slashes are left alone: URL
#: paths are made of them.
_JOINS = re.compile(r"(?<=[A-Za-z])[_.+*|~](?=[A-Za-z])|(?<=[a-z])(?=[A-Z])")


def _unjoined(item: _Text) -> list[str]:
    """Long tokens whose words were run together ("Ignore_all_previous_instructions",
    "IgnoreAllPreviousInstructions"), spaced out again; only tokens that hold two of the
    injection words, split into three words or more, and are not URLs or paths (whose
    dotted names, "system.web.security", would read as prose)."""
    out: list[str] = []
    for token in item.long_tokens[:256]:
        if "/" in token or ":" in token or "@" in token or "\\" in token:
            continue
        lower = token.lower()
        if sum(k in lower for k in _CUT_KEYWORDS) < 2:
            continue
        spaced = _JOINS.sub(" ", token)
        if spaced.count(" ") >= 2:
            out.append(spaced)
            if len(out) >= 16:
                break
    return ["\n".join(out)] if out else []


#: Injection words whose misspellings are read as the word itself ("Ignroe all
#: previuos instrucitons"): every variant one typing slip away (a letter dropped, added,
#: swapped with the next or replaced), found in one Aho-Corasick pass.
_TYPO_TARGETS = ("ignore", "disregard", "previous", "instructions", "instruction", "prompt",
                 "system", "reveal", "forget", "override", "guidelines", "restrictions",
                 "password", "secret")  # fmt: skip
_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def _slips(word: str) -> set[str]:
    cuts = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    return (
        {a + b[1:] for a, b in cuts if b}
        | {a + b[1] + b[0] + b[2:] for a, b in cuts if len(b) > 1}
        | {a + c + b[1:] for a, b in cuts if b for c in _LETTERS}
        | {a + c + b for a, b in cuts for c in _LETTERS}
    )


#: Real words one slip away from a target (found in a benign corpus), left as they are.
_REAL_SLIPS = frozenset(
    [
        "guideline",
        "forgot",
        "forge",
        "forged",
        "forger",
        "forges",
        "restriction",
        "precious",
        "overrode",
        "systemic",
        "secrete",
        "secreted",
        "secrets",
        "secretly",
        "prompted",
        "prompter",
        "promote",
        "ignorer",
        "reveals",
        "revealed",
        "passwords",
    ]
)


def _typo_table() -> dict[str, str]:
    table: dict[str, str] = {}
    for word in _TYPO_TARGETS:
        # inflections and other real words are not slips: "prompts", "ignored", "systems"
        keep = {word + end for end in ("s", "d", "r", "ed", "es")} | set(_TYPO_TARGETS)
        for slip in _slips(word):
            if (
                len(slip) >= 5
                and slip not in keep
                and slip not in _SPLIT_WORDS
                and slip not in _REAL_SLIPS
                # a slip inside a target ("gnore" in "ignore") would be found in every
                # correctly spelt one
                and not any(slip in target for target in _TYPO_TARGETS)
            ):
                table.setdefault(slip, word)
    return table


@cache
def _typo_index() -> tuple[dict[str, str], AnchorSet]:
    """Built on first use (about 12 ms): each slip's word, and the slips to search for."""
    table = _typo_table()
    return table, AnchorSet(table)


def _typos(item: _Text) -> list[str]:
    """The text with misspelt injection words spelt right, when two or more distinct
    ones were misspelt (a single typo is an ordinary text's)."""
    table, anchors = _typo_index()
    found = anchors.found(item.lower[:20_000])
    if len({table[f] for f in found}) < 2:
        return []
    # whole words only, and not the rest of an escape such as "\\nsystem"
    alternatives = "|".join(map(re.escape, sorted(found, key=len, reverse=True)))
    pattern = re.compile(r"(?<![\\\w])(" + alternatives + r")\b")
    hits: set[str] = set()

    def fix(m: re.Match[str]) -> str:
        hits.add(table[m.group(1)])
        return table[m.group(1)]

    fixed = pattern.sub(fix, item.lower[:20_000])
    return [fixed] if len(hits) >= 2 else []


_DECODERS = (
    ("base64", _base64),
    ("base32", _base32),
    ("base85", _base85),
    ("hex", _hex),
    ("url", _url),
    ("quoted-printable", _quoted_printable),
    ("html-entities", _entities),
    ("uuencode", _uu),
    ("byte-list", _byte_lists),
    ("morse", _morse),
    ("braille", _braille),
    ("nato", _nato),
    ("rot13", _rot13),
    ("caesar", _caesar),
    ("reversed", _reversed),
    ("leetspeak", _leet),
    ("spaced", _spaced),
    ("rejoined", _rejoined),
    ("unjoined", _unjoined),
    ("typos", _typos),
)


def expand(
    text: str, *, max_depth: int = 3, max_views: int = 8, max_chars: int = 20_000
) -> list[Decoded]:
    """Decoded views of ``text``, breadth first, at most ``max_views`` of them."""
    views: list[Decoded] = []
    seen = {text}
    frontier = [Decoded(text[:max_chars], ())]
    for _ in range(max_depth):
        nxt: list[Decoded] = []
        for item in frontier:
            current = _Text(item.text)
            for name, decoder in _DECODERS:
                for decoded in decoder(current):
                    decoded = decoded[:max_chars]
                    if decoded in seen:
                        continue
                    seen.add(decoded)
                    view = Decoded(decoded, (*item.chain, name))
                    views.append(view)
                    nxt.append(view)
                    if len(views) >= max_views:
                        return views
        frontier = nxt
        if not frontier:
            break
    return views


@dataclass(frozen=True, slots=True)
class EncodingRule:
    """Decode encoded payloads so that the later rules check the decoded text too.

    The rule itself fires only when ``flag_decoded`` is set; by default the decoded
    views are checked by the content rules, which fire if the payload is hostile.
    """

    name: ClassVar[str] = "encoding"
    directions: ClassVar[frozenset[Direction]] = frozenset({Direction.INPUT})

    max_depth: int = 3
    max_views: int = 8
    max_chars: int = 20_000
    flag_decoded: bool = False

    def check(self, text: str, ctx: Context) -> RuleResult:
        views = expand(
            text, max_depth=self.max_depth, max_views=self.max_views, max_chars=self.max_chars
        )
        if not views:
            return RuleResult.clean(self.name)
        chains = sorted({"+".join(v.chain) for v in views})
        return RuleResult(
            rule=self.name,
            triggered=self.flag_decoded,
            score=0.6 if self.flag_decoded else 0.3,
            reason="encoding." + chains[0],
            views=tuple(v.text for v in views),
            details={"chains": chains},
        )
