"""Per-client detector state: fixed-size arrays, so memory per client is bounded.

One :class:`ClientState` is 25 KB whatever the client sends: a capped list of topic
centroids (leader clustering), rings of the last :data:`RING` queries' SimHashes, edge
hashes and enumerated slots, rings of per-query flags, the last :data:`BACK` queries'
embeddings, two mean embeddings (recent and long-term) for the MMD tests, PRADA's minimum
distances, request and token counts per budget window, the graded action in force, and for
the last query of each of up to :data:`TEMPLATES` templates its prefix and suffix hashes and
sort keys (see :mod:`features`: the first three letters of each of its first 32 tokens, the
only text-derived values kept).
It packs to bytes (for Redis) and back; a blob of another version or size reads as a fresh state.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import numpy.typing as npt

from bastion.guard.extraction.features import DIM, ORDER_TOKENS

RING = 64  # recent queries remembered for near-duplicates, templates and rates
TEMPLATES = 4  # templates whose last filled-in query is remembered for the order signal
CENTROIDS = 32  # topic clusters remembered per client
BACK = 4  # last queries' embeddings kept, for locality and jumps
WINDOWS = 3  # budget windows: minute, hour, day
VERSION = 7

_SCALARS = struct.Struct("<B q d d q q q i d d")
_ARRAYS: dict[str, tuple[Any, tuple[int, ...]]] = {
    "centroids": (np.float16, (CENTROIDS, DIM)),
    "weights": (np.float32, (CENTROIDS,)),
    "used": (np.int64, (CENTROIDS,)),
    "sim": (np.uint64, (RING,)),
    "exact": (np.uint32, (RING,)),
    "heads": (np.uint32, (RING,)),
    "tails": (np.uint32, (RING,)),
    "slots": (np.int64, (RING,)),
    "flags": (np.uint8, (RING,)),  # bit per signal, see FLAG_*
    "sampling": (np.float16, (RING,)),
    "mindist": (np.float32, (RING,)),
    "mu_recent": (np.float32, (DIM,)),
    "mu_history": (np.float32, (DIM,)),
    "budget": (np.float64, (WINDOWS, 3)),  # window start, requests, tokens
    "previous": (np.float16, (BACK, DIM)),  # the last queries' centred embeddings, a ring
    "locality": (np.float32, (1,)),  # EMA of the cosine between consecutive queries
    # per template (least recently used replaced): its last query's prefix hashes, token
    # sort keys, tail hash, suffix hashes and when it was last used
    "prefixes": (np.uint32, (TEMPLATES, ORDER_TOKENS)),
    "keys": (np.uint16, (TEMPLATES, ORDER_TOKENS)),
    "template_tails": (np.uint32, (TEMPLATES,)),
    "suffixes": (np.uint32, (TEMPLATES, ORDER_TOKENS)),  # its suffix hashes
    "template_used": (np.int64, (TEMPLATES,)),
}

FLAG_NOVEL, FLAG_NEAR_DUP, FLAG_TEMPLATE, FLAG_ENUM = 1, 2, 4, 8
FLAG_ASCENDING, FLAG_DESCENDING = 16, 32  # a templated query's slot sorts after / before the last
FLAG_LOOKUP = 64  # a templated query whose filler is a short key (a name, a number), not prose
FLAG_JUMP = 128  # a query related to none of the BACK queries before it


def _empty(name: str) -> npt.NDArray[Any]:
    dtype, shape = _ARRAYS[name]
    return np.zeros(shape, dtype=dtype)


@dataclass(eq=False)
class ClientState:
    """Everything the detector remembers about one client (an API key or an address)."""

    queries: int = 0  # queries seen in total
    first_seen: float = 0.0
    last_seen: float = 0.0
    clusters: int = 0  # centroids in use (<= CENTROIDS)
    level: int = 0  # the graded action in force (0 none .. 4 block)
    level_until: int = 0  # epoch seconds a sticky action lasts
    created: int = 0  # clusters created in total
    prada_flagged: int = 0
    score: float = 0.0  # the last combined score
    weight2: float = 0.0  # sum of the squared weights of mu_recent's EMA
    centroids: npt.NDArray[np.float16] = field(default_factory=lambda: _empty("centroids"))
    weights: npt.NDArray[np.float32] = field(default_factory=lambda: _empty("weights"))
    used: npt.NDArray[np.int64] = field(default_factory=lambda: _empty("used"))
    sim: npt.NDArray[np.uint64] = field(default_factory=lambda: _empty("sim"))
    exact: npt.NDArray[np.uint32] = field(default_factory=lambda: _empty("exact"))
    heads: npt.NDArray[np.uint32] = field(default_factory=lambda: _empty("heads"))
    tails: npt.NDArray[np.uint32] = field(default_factory=lambda: _empty("tails"))
    slots: npt.NDArray[np.int64] = field(default_factory=lambda: _empty("slots"))
    flags: npt.NDArray[np.uint8] = field(default_factory=lambda: _empty("flags"))
    sampling: npt.NDArray[np.float16] = field(default_factory=lambda: _empty("sampling"))
    mindist: npt.NDArray[np.float32] = field(default_factory=lambda: _empty("mindist"))
    mu_recent: npt.NDArray[np.float32] = field(default_factory=lambda: _empty("mu_recent"))
    mu_history: npt.NDArray[np.float32] = field(default_factory=lambda: _empty("mu_history"))
    budget: npt.NDArray[np.float64] = field(default_factory=lambda: _empty("budget"))
    previous: npt.NDArray[np.float16] = field(default_factory=lambda: _empty("previous"))
    locality: npt.NDArray[np.float32] = field(default_factory=lambda: _empty("locality"))
    prefixes: npt.NDArray[np.uint32] = field(default_factory=lambda: _empty("prefixes"))
    keys: npt.NDArray[np.uint16] = field(default_factory=lambda: _empty("keys"))
    template_tails: npt.NDArray[np.uint32] = field(default_factory=lambda: _empty("template_tails"))
    suffixes: npt.NDArray[np.uint32] = field(default_factory=lambda: _empty("suffixes"))
    template_used: npt.NDArray[np.int64] = field(default_factory=lambda: _empty("template_used"))
    # the centroids as float32 for the cosine search, paired with the float16 array they
    # copy: widening every centroid for every query cost more than the search itself. The
    # clustering, the only writer of ``centroids``, keeps it in step; it is never packed.
    wide: tuple[npt.NDArray[np.float16], npt.NDArray[np.float32]] | None = field(
        default=None, init=False, repr=False
    )

    @property
    def filled(self) -> int:
        """How many ring entries hold a query."""
        return min(self.queries, RING)

    @property
    def pos(self) -> int:
        """The ring slot the next query goes to."""
        return self.queries % RING

    def rate(self, flag: int) -> float:
        """The share of the remembered queries that carry ``flag``."""
        n = self.filled
        return float(np.count_nonzero(self.flags[:n] & flag)) / n if n else 0.0

    def to_bytes(self) -> bytes:
        head = _SCALARS.pack(
            VERSION, self.queries, self.first_seen, self.last_seen, self.clusters,
            self.level, self.level_until, self.created, self.score, self.weight2,
        )  # fmt: skip
        head += struct.pack("<i", self.prada_flagged)
        return head + b"".join(getattr(self, name).tobytes() for name in _ARRAYS)

    @classmethod
    def from_bytes(cls, blob: bytes | None) -> ClientState:
        """The state packed in ``blob``; a fresh one for None or anything unreadable."""
        if not blob or len(blob) != _SIZE or blob[0] != VERSION:
            return cls()
        _v, q, first, last, clusters, level, until, created, score, weight2 = _SCALARS.unpack_from(
            blob
        )
        off = _SCALARS.size
        (prada,) = struct.unpack_from("<i", blob, off)
        off += 4
        arrays: dict[str, Any] = {}
        for name, (dtype, shape) in _ARRAYS.items():
            count = int(np.prod(shape))
            arr = np.frombuffer(blob, dtype=dtype, count=count, offset=off).reshape(shape)
            arrays[name] = arr.copy()
            off += arr.nbytes
        return cls(q, first, last, clusters, level, until, created, prada, score, weight2,
                   **arrays)  # fmt: skip


_SIZE = _SCALARS.size + 4 + sum(int(np.dtype(d).itemsize * np.prod(s)) for d, s in _ARRAYS.values())

STATE_BYTES = _SIZE
"""The size of one packed state."""

assert {f.name for f in fields(ClientState)} >= set(_ARRAYS)
