"""Cheap content tests that tell the formats apart, kept apart from the scanners.

The registry runs these on every file before it knows which scanner it needs, so this
module imports nothing heavy and compiles its few regular expressions on first use: a
scanner's module (and what it imports) loads only when content sniffs as its format.
Each scanner's own ``sniff`` calls the function here, so both always agree.
"""

from __future__ import annotations

import re
from functools import cache

from bastion.scan.base import SeekableStream

# Protobuf wire types (ONNX, TensorFlow SavedModel); ``_protobuf`` uses these too.
VARINT, FIXED64, LENGTH, FIXED32 = 0, 1, 2, 5

ZIP_EOCD = b"PK\x05\x06"
ZIP_CENTRAL = b"PK\x01\x02"
ZIP_LOCAL = b"PK\x03\x04"
NPY_MAGIC = b"\x93NUMPY"
GGUF_MAGIC = b"GGUF"
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
#: The reference safetensors implementation refuses headers over 100 MB.
SAFETENSORS_MAX_HEADER = 100_000_000
#: First bytes of protocol 0/1 pickles (opcodes that can start one) and of PROTO.
PICKLE_STARTS = frozenset(b"(cN]})IJKLMFGSTUVX.") | frozenset(range(0x81, 0x99))
TEMPLATE_STARTS = (b"{%", b"{{", b"{#")
#: ModelProto's fields, as they appear as tags in the first bytes of a file.
ONNX_MODEL_TAGS = {1: VARINT, 2: LENGTH, 3: LENGTH, 4: LENGTH, 5: VARINT, 6: LENGTH, 7: LENGTH,
                   8: LENGTH, 14: LENGTH, 20: LENGTH, 25: LENGTH}  # fmt: skip
ONNX_MAX_TOP_FIELDS = 10_000


def varint_at(head: bytes, pos: int) -> tuple[int, int] | None:
    """(value, position after it) of the varint at ``pos``; None when ``head`` ends first."""
    value = 0
    for i in range(10):
        if pos + i >= len(head):
            return None
        value |= (head[pos + i] & 0x7F) << (7 * i)
        if not head[pos + i] & 0x80:
            return value, pos + i + 1
    return None


def zip_head(head: bytes) -> bool:
    return head.startswith((ZIP_LOCAL, ZIP_EOCD, b"PK\x07\x08"))


def zip_tail(stream: SeekableStream) -> bool:
    """True when a zip ends the stream, whatever its start: zip readers (and
    ``torch.load``) find an archive from its end, so a pickle or an image in front
    of it does not make it something else."""
    size = stream.seek(0, 2)
    tail_len = min(size, 65557 + 20)
    stream.seek(size - tail_len)
    tail = stream.read(tail_len)
    at = tail.rfind(ZIP_EOCD)
    if at < 0 or len(tail) - at < 22:
        return False
    cd_size = int.from_bytes(tail[at + 12 : at + 16], "little")
    cd_offset = int.from_bytes(tail[at + 16 : at + 20], "little")
    eocd_pos = size - tail_len + at
    if cd_size > eocd_pos:
        return False
    if cd_size == 0:
        return bool(cd_offset <= eocd_pos)
    stream.seek(eocd_pos - cd_size)
    return stream.read(4) == ZIP_CENTRAL


def tar_head(head: bytes) -> bool:
    return head[257:262] == b"ustar" or _tar_checksum_ok(head[:512])


def _tar_checksum_ok(block: bytes) -> bool:
    if len(block) < 512:
        return False
    try:
        stored = int(block[148:156].split(b"\x00", 1)[0].strip() or b"-1", 8)
    except ValueError:
        return False
    unsigned = sum(block[:148]) + 8 * 32 + sum(block[156:512])
    return stored == unsigned


def npy_head(head: bytes) -> bool:
    return head.startswith(NPY_MAGIC)


def gguf_head(head: bytes) -> bool:
    return head.startswith(GGUF_MAGIC)


def safetensors_head(head: bytes) -> bool:
    if len(head) < 10:
        return False
    size = int.from_bytes(head[:8], "little")
    return 2 <= size <= SAFETENSORS_MAX_HEADER and head[8:9] == b"{"


def hdf5_head(head: bytes) -> bool:
    return any(head[at : at + 8] == HDF5_MAGIC for at in (0, 512, 1024, 2048))


def hdf5_tail(stream: SeekableStream) -> bool:
    """HDF5 files may start with a user block of 512 * 2**k bytes: the library looks
    for the signature at each such offset, so a model can hide behind any prefix."""
    size = stream.seek(0, 2)  # like zip's sniff_tail: the stream's own offsets
    at = 4096
    while at + 8 <= size:
        stream.seek(at)
        if stream.read(8) == HDF5_MAGIC:
            return True
        at *= 2
    return False


def savedmodel_head(head: bytes) -> bool:
    # saved_model_schema_version = 1, then a MetaGraphDef starting with meta_info_def.
    if not head.startswith(b"\x08\x01\x12"):
        return False
    length = varint_at(head, 3)
    return length is not None and head[length[1] : length[1] + 1] == b"\x0a"


def keras_metadata_head(head: bytes) -> bool:
    # SavedMetadata: repeated SavedObject nodes, each with a JSON metadata string.
    return head[:1] == b"\x0a" and b'"class_name"' in head and b"\x08" in head[2:4]


def onnx_head(head: bytes) -> bool:
    if len(head) < 4 or head[0] != 0x08 or not 3 <= head[1] <= 20:
        return False  # ir_version first, as every writer orders it
    pos, fields = 0, 0
    while pos < len(head):
        tag = varint_at(head, pos)
        if tag is None:
            return fields > 1
        value, pos = tag
        if ONNX_MODEL_TAGS.get(value >> 3) != value & 7:
            return False
        pos = _protobuf_skip(head, pos, value & 7)
        fields += 1
        if pos < 0:
            return fields > 1  # the head ends inside a field
    return True


def onnx_tail(stream: SeekableStream) -> bool:
    """The whole file read as top-level ModelProto fields, in any order, ending exactly
    at its end and holding a graph: writers that put ``ir_version`` last are caught too."""
    start = 0  # like zip's sniff_tail: the stream's own offsets (others move it)
    size = stream.seek(0, 2)
    pos, graph = 0, False
    for _ in range(ONNX_MAX_TOP_FIELDS):
        if pos == size:
            return graph
        stream.seek(start + pos)
        head = stream.read(20)
        tag = varint_at(head, 0)
        if tag is None or ONNX_MODEL_TAGS.get(tag[0] >> 3) != tag[0] & 7:
            return False
        graph = graph or tag[0] >> 3 == 7
        after = _protobuf_skip(head, tag[1], tag[0] & 7, allow_beyond=True)
        if after < 0 or pos + after > size:
            return False
        pos += after
    return False


def _protobuf_skip(head: bytes, pos: int, wire: int, *, allow_beyond: bool = False) -> int:
    """Position after a field's payload in ``head``, or -1 when the head ends first
    (with ``allow_beyond``, a length-delimited payload may end past the head)."""
    if wire == VARINT:
        value = varint_at(head, pos)
        return -1 if value is None else value[1]
    length = varint_at(head, pos)
    if length is None or (length[1] + length[0] > len(head) and not allow_beyond):
        return -1
    return length[1] + length[0]


@cache
def joblib_zfile() -> re.Pattern[bytes]:
    """joblib < 0.10: "ZF", the length in hex padded, then a zlib stream."""
    return re.compile(rb"ZF0x[0-9a-fA-F]{1,17} *\x78")


def compression_of(head: bytes) -> str | None:
    """The compression format ``head`` starts with, if any."""
    if head.startswith(b"\x1f\x8b\x08"):
        return "gzip"
    if head.startswith(b"BZh") and head[3:4].isdigit() and head[4:10] == b"1AY&SY":
        return "bz2"
    if head.startswith(b"\xfd7zXZ\x00"):
        return "xz"
    if head[:1] == b"\x5d" and head[1:3] == b"\x00\x00" and len(head) >= 13:
        return "lzma"  # LZMA "alone" format, as joblib writes it
    if len(head) >= 2 and head[0] == 0x78 and (head[0] * 256 + head[1]) % 31 == 0:
        return "zlib"
    if head.startswith(b"\x04\x22\x4d\x18"):
        return "lz4"
    if head.startswith(b"ZF") and joblib_zfile().match(head):
        return "joblib-zfile"
    return None


def compressed_head(head: bytes) -> bool:
    return compression_of(head) is not None


def pickle_head(head: bytes) -> bool:
    """PROTO 2-5 is decided here; a protocol 0/1 start needs the pickle machine, which
    is then imported (see :func:`bastion.scan.pickle.looks_like_pickle`)."""
    if len(head) >= 2 and head[0] == 0x80 and head[1] <= 5:
        return True
    if not head or head[0] not in PICKLE_STARTS:
        return False
    from bastion.scan.pickle import looks_like_pickle

    return looks_like_pickle(head)


def json_head(head: bytes) -> bool:
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    if not text.startswith(b"{") or text.startswith(TEMPLATE_STARTS):
        return False
    return text[1:].lstrip()[:1] in (b'"', b"}")


def template_head(head: bytes) -> bool:
    return head.removeprefix(b"\xef\xbb\xbf").lstrip().startswith(TEMPLATE_STARTS)


@cache
def _python_start() -> re.Pattern[str]:
    return re.compile(
        r"(import\s+\w|from\s+[\w.]+\s+import\b|def\s+\w+\s*\(|class\s+\w+\s*[(:]|async\s+def\s"
        r"|@[\w.]+|if\s+__name__\s*==|op_version_set\s*=|__all__\s*=|\"\"\"|''')"
    )


def python_head(head: bytes) -> bool:
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:
            return False
        text = head[: exc.start].decode("utf-8-sig")
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            return bool(_python_start().match(stripped))
    return False
