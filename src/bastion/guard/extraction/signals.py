"""The extraction signals, computed online from one client's state and its next query.

Each signal is a score in [0, 1] (1: this client's traffic looks like extraction):

* ``coverage``: the share of recent queries that opened a new topic cluster (leader
  clustering over the hashing embedding, capped per client). People stay on a topic for a
  while; a crawler of the model's domain keeps opening new ones.
* ``broadness``: how close the client's recent query distribution is to the whole
  population's (an MMD test, linear kernel on the centred embedding): a user's questions
  are narrower than everybody's together; a uniform sample of the domain is not. Each
  client has a bounded vote in the population's mean (its first 64 queries, then one in
  n // 64), so a heavy client does not pull the mean towards itself and then look broad.
* ``locality``: how unrelated each query is to the one before (an EMA of their cosine):
  people ask follow-ups and stay on a topic for a while; a crawl, even one mixed with
  on-topic queries, keeps jumping.
* ``jumps``: the share of recent queries related (cosine of the centred embeddings at least
  :data:`JUMP_BELOW`) to none of the :data:`BACK` queries before each. A person's query
  follows up on one of their last few, even when they alternate between two topics; a
  crawl's does not, and mixing on-topic queries into it leaves its coverage queries
  unrelated to everything before them, however alike the on-topic ones are (which
  ``locality``, looking one query back, can take for follow-ups).
* ``drift``: MMD between the client's recent queries and its own history.
* ``perturbation``: the share of recent queries that are near-duplicates (SimHash) of an
  earlier one, but not identical: perturbations of seed prompts.
* ``enumeration``: prompts that share an edge (first or last words) with an earlier one and
  differ by the next number or letter in a slot, a value no remembered prompt with that
  edge had.
* ``order``: a walk through a template's slot values in sorted order. A query that shares
  its first two tokens, or its last ones, with the last query of one of the client's
  recent templates is a templated step; the sort keys of the first token where the two
  differ say whether its slot value sorts after or before the last one. A batch job or a
  person fills a template in whatever order the work comes (about as many steps up as
  down); a crawl of a sorted item list goes one way.
  The score is a sign test over the remembered steps: ``|up - down| / sqrt(up + down)``.
* ``lookup``: a template filled with ever new short keys. A templated step (as for
  ``order``) whose filler, the tokens between the prefix and the suffix it shares with the
  template's last query, is 1 to 8 words with at most one function word ("the", "of") is a
  lookup of a key (a name, an identifier, a number) rather than a transformation of prose;
  one that repeats a remembered query is not. A crawl that walks one phrasing over an item
  list, in any order, does this at nearly every query; people, and batch jobs that feed
  documents or cycle through a bounded list, for a third of their queries at most.
  The score is the share of such queries among the last 64.
* ``template``: prompts that share an edge with an earlier one but differ in content.
* ``sampling``: requests for log-probabilities, ``top_logprobs`` or several samples.
* ``prada``: the PRADA baseline: a Shapiro-Wilk test of the minimum distances between each
  query and the earlier ones (needs SciPy; off by default).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from bastion.guard.extraction.features import DIM, QueryFeatures
from bastion.guard.extraction.state import (
    BACK,
    CENTROIDS,
    FLAG_ASCENDING,
    FLAG_DESCENDING,
    FLAG_ENUM,
    FLAG_JUMP,
    FLAG_LOOKUP,
    FLAG_NEAR_DUP,
    FLAG_NOVEL,
    FLAG_TEMPLATE,
    RING,
    ClientState,
)

COVERAGE_LO, COVERAGE_HI = 0.35, 0.6
BROAD_LO, BROAD_HI = 1.4, 2.0
LOCAL_LO, LOCAL_HI = 0.04, 0.08  # mean cosine of consecutive queries: 1 at or under LO
JUMP_BELOW = 0.1  # cosine to each of the last BACK queries under which a query is a jump
JUMPS_LO, JUMPS_HI = 0.35, 0.6  # share of recent jumps: half for a crawl mixed half and half
NOVEL_BELOW = 0.2  # cosine to the nearest centroid under which a query opens a cluster
NEAR_DUP_BITS = 3  # SimHash Hamming distance up to which two prompts are near-duplicates
PRADA_DELTA = 0.9  # PRADA flags a client whose Shapiro-Wilk W falls below this
PRADA_MIN = 32  # minimum distances PRADA needs before it tests
ORDER_MIN_STEPS = 16  # templated steps the order test needs before it scores
ORDER_LO, ORDER_HI = 3.0, 4.5  # the sign test's z: 0 at or under LO, 1 at or over HI
ORDER_SHARED = 2  # leading tokens two prompts share for a templated step
LOOKUP_WORDS = 8  # a filler of at most this many words can be a key (a name, a number)
LOOKUP_STOPS = 1  # ... with at most this many function words in it
LOOKUP_LO, LOOKUP_HI = 0.6, 0.85  # share of recent queries filling a template with a key
POPULATION_VOTES = 64  # a client's first queries all count in the population; later ones
# ever more sparsely (one in n // 64), so no client, however heavy, moves its mean much
_SLOT_KINDS = {"number": 1, "letter": 2}
_NO_SLOT = -1


def _ramp(x: float, lo: float, hi: float) -> float:
    return min(1.0, max(0.0, (x - lo) / (hi - lo)))


@dataclass
class Population:
    """The mean embedding of every client's queries (an EMA): what all queries share."""

    center: npt.NDArray[np.float32]
    count: int = 0

    @classmethod
    def empty(cls) -> Population:
        return cls(np.zeros(DIM, dtype=np.float32))

    def centered(self, v: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """``v`` less the population's mean, unit length: phrasing shared by everybody
        ("how do I", "what does ... do") drops out and the topic remains."""
        c = v - self.center
        # np.linalg.norm's own arithmetic (a float32 dot, then sqrt) without its overhead
        norm = float(np.sqrt(c.dot(c)))
        out: npt.NDArray[np.float32] = c / norm if norm > 0 else c
        return out

    def update(self, v: npt.NDArray[np.float32]) -> None:
        self.count += 1
        a = max(1.0 / self.count, 1.0 / 4096)
        self.center = ((1 - a) * self.center + a * v).astype(np.float32, copy=False)

    def to_bytes(self) -> bytes:
        return self.count.to_bytes(8, "little") + self.center.tobytes()

    @classmethod
    def from_bytes(cls, blob: bytes | None) -> Population:
        if not blob or len(blob) != 8 + 4 * DIM:
            return cls.empty()
        center = np.frombuffer(blob, np.float32, DIM, 8).copy()
        return cls(center, int.from_bytes(blob[:8], "little"))


# every float16 as float32: a table look-up widens the stored centroids and embeddings
# several times faster than numpy's float16 cast, to the very same values
_WIDEN: npt.NDArray[np.float32] = (
    np.arange(1 << 16, dtype=np.uint16).view(np.float16).astype(np.float32)
)


def _widen(a: npt.NDArray[np.float16]) -> npt.NDArray[np.float32]:
    """``a.astype(np.float32)``, faster."""
    return _WIDEN.take(a.view(np.uint16))


def _wide_centroids(state: ClientState) -> npt.NDArray[np.float32]:
    """``state.centroids`` as float32, rebuilt only when the state has new centroids (a
    state read from bytes); rows past ``clusters`` are written before they are read."""
    cached = state.wide
    if cached is not None and cached[0] is state.centroids:
        return cached[1]
    wide = np.zeros((CENTROIDS, DIM), dtype=np.float32)
    wide[: state.clusters] = _widen(state.centroids[: state.clusters])
    state.wide = (state.centroids, wide)
    return wide


def _cluster(state: ClientState, vec: npt.NDArray[np.float32]) -> float:
    """Assign ``q`` to its nearest centroid or open a new one; returns the best cosine."""
    m = state.clusters
    best, j = 0.0, -1
    wide = _wide_centroids(state)
    if m:
        sims = wide[:m] @ vec
        j = int(np.argmax(sims))
        best = float(sims[j])
    if best < NOVEL_BELOW or j < 0:
        slot = m if m < CENTROIDS else int(np.argmin(state.used))
        state.clusters = max(m, slot + 1)
        state.centroids[slot] = vec
        wide[slot] = _widen(state.centroids[slot])
        state.weights[slot] = 1.0
        state.created += 1
        state.used[slot] = state.queries
    else:
        w = min(float(state.weights[j]), 31.0)
        c = wide[j] * w + vec
        norm = float(np.sqrt(c.dot(c)))
        state.centroids[j] = c / norm if norm else c
        wide[j] = _widen(state.centroids[j])
        state.weights[j] = w + 1
        state.used[j] = state.queries
    return best


def _edges(state: ClientState, q: QueryFeatures) -> tuple[bool, bool, bool]:
    """(near-duplicate, template, enumeration) of ``q`` against the remembered queries."""
    n = state.filled
    if not n:
        return False, False, False
    close = np.bitwise_count(state.sim[:n] ^ np.uint64(q.simhash)) <= NEAR_DUP_BITS
    same_head = state.heads[:n] == q.head
    edge = same_head | (state.tails[:n] == q.tail)
    # a filled-in template keeps its opening words; edits of a seed move them often
    near = bool((close & (state.exact[:n] != q.exact) & ~same_head).any())
    template = bool((edge & ~close).any())
    enum = False
    if q.slot is not None:
        kind, value = q.slot
        code = (_SLOT_KINDS[kind] << 32) | value
        slots = state.slots[:n]
        same_kind = (slots >> 32) == _SLOT_KINDS[kind]
        filled = edge & same_kind & (slots != _NO_SLOT)
        step = np.abs(slots - code) == 1
        # a walk reaches a new value; a batch job's recurring texts bring their numbers back
        enum = bool((filled & step).any()) and not bool((filled & (slots == code)).any())
    return near, template, enum


def _order_step(state: ClientState, q: QueryFeatures) -> tuple[int, bool]:
    """(order, lookup) of ``q`` against the client's remembered templates.

    order: +1 (-1) when ``q`` fills a remembered template with a value sorting after
    (before) the one in that template's last query; 0 when it fills none or the values sort
    equal. lookup: ``q`` fills a remembered template and what it fills in (the tokens between
    the prefix and the suffix the two share) is a short key: 1 to :data:`LOOKUP_WORDS` words,
    at most :data:`LOOKUP_STOPS` of them function words ("the", "of", ...), as a name or a
    number is, where a batch job's filler is prose (a sentence, a document).

    A template is remembered by its last query; ``q`` fills it when the two share their
    first :data:`ORDER_SHARED` tokens or their last ones. The slot starts at the first token
    where they differ. ``q`` then becomes the template's last query (or, filling none,
    replaces the least recently used template)."""
    shared = ORDER_SHARED - 1
    # a handful of templates: plain Python beats numpy's per-call overhead here
    used = state.template_used.tolist()
    q_prefix = int(q.prefixes[shared])
    match = [
        u > 0 and ((p == q_prefix and q_prefix != 0) or t == q.tail)
        for u, p, t in zip(
            used, state.prefixes[:, shared].tolist(), state.template_tails.tolist(), strict=True
        )
    ]
    step, lookup = 0, False
    if True in match:
        j = match.index(True)
        last_prefixes, last_keys = state.prefixes[j], state.keys[j]
        differ = np.flatnonzero(last_prefixes != q.prefixes)
        if differ.size:
            p = int(differ[0])
            if last_prefixes[p] and q.prefixes[p]:  # else one prompt ends where the other goes on
                a, b = int(q.keys[p]), int(last_keys[p])
                step = (a > b) - (a < b)
                lookup = _is_key(q, p, state.suffixes[j])
    else:
        j = used.index(min(used))
    state.prefixes[j], state.keys[j], state.suffixes[j] = q.prefixes, q.keys, q.suffixes
    state.template_tails[j] = q.tail
    state.template_used[j] = state.queries + 1
    return step, lookup


def _is_key(q: QueryFeatures, start: int, last_suffixes: npt.NDArray[np.uint32]) -> bool:
    """Whether ``q``'s filler, from token ``start`` to the suffix it shares with the
    template's last query, is a short key rather than prose."""
    same = (last_suffixes == q.suffixes) & (q.suffixes != 0)
    shared = int(np.argmin(same)) if not bool(same.all()) else same.size
    end = q.tokens - shared
    if end <= start or end > q.kinds.size:
        return False
    kinds = q.kinds[start:end]
    words = int(np.count_nonzero(kinds))
    stops = int(np.count_nonzero(kinds == 2))
    return 1 <= words <= LOOKUP_WORDS and stops <= LOOKUP_STOPS


def _flag_counts(state: ClientState) -> list[int]:
    """How many remembered queries carry each flag bit (index k: flag ``1 << k``), in one
    pass over the ring rather than one per flag."""
    bits = np.unpackbits(state.flags[: state.filled, None], axis=1, bitorder="little")
    counts: list[int] = bits.sum(axis=0, dtype=np.int64).tolist()
    return counts


def _order(up: int, down: int) -> float:
    if up + down < ORDER_MIN_STEPS:
        return 0.0
    return _ramp(abs(up - down) / math.sqrt(up + down), ORDER_LO, ORDER_HI)


def _prada(state: ClientState) -> float:
    n = state.filled
    if n < PRADA_MIN:
        return 0.0
    try:
        from scipy.stats import shapiro  # type: ignore[import-untyped,unused-ignore]
    except ImportError:  # the baseline needs SciPy; without it, it stays silent
        return 0.0
    d = state.mindist[:n].astype(np.float64)
    if float(np.ptp(d)) == 0.0:
        return 1.0
    w = float(shapiro(d).statistic)
    return 1.0 if w < PRADA_DELTA else 0.0


def _sampling_mean(state: ClientState) -> float:
    """The mean sampling level of the remembered queries, as ``np.mean`` gives it."""
    ring = state.sampling[: state.filled]
    # most clients never ask for log-probabilities: all zeros (no negative levels exist)
    if not any(ring.tobytes()):
        return 0.0
    return float(np.mean(ring))


RECENT = 32  # the recent window's EMA horizon, in queries
HISTORY = 512


def _null(alpha: float) -> float:
    """E||mean||^2 of an EMA (weight ``alpha``) of independent zero-mean unit vectors."""
    return alpha / (2 - alpha)


def observe(
    state: ClientState,
    q: QueryFeatures,
    population: Population,
    *,
    prada: bool = True,
    population_min: int = 1000,
) -> dict[str, float]:
    """Update ``state`` and ``population`` with one query; return every signal's score."""
    vec = population.centered(q.vector)
    near, template, enum = _edges(state, q)
    order, lookup = _order_step(state, q)
    # a key asked about again is a batch job's bounded list, not a crawl's next item
    lookup = lookup and not bool(np.any(state.exact[: state.filled] == q.exact))
    best = _cluster(state, vec)
    novel = best < NOVEL_BELOW
    i = state.pos
    state.sim[i], state.exact[i] = q.simhash, q.exact
    state.heads[i], state.tails[i] = q.head, q.tail
    state.slots[i] = (_SLOT_KINDS[q.slot[0]] << 32) | q.slot[1] if q.slot is not None else _NO_SLOT
    state.flags[i] = (
        FLAG_NOVEL * novel
        + FLAG_NEAR_DUP * near
        + FLAG_TEMPLATE * template
        + FLAG_ENUM * enum
        + FLAG_ASCENDING * (order > 0)
        + FLAG_DESCENDING * (order < 0)
        + FLAG_LOOKUP * lookup
    )
    state.sampling[i] = q.sampling
    state.mindist[i] = math.sqrt(max(0.0, 2.0 - 2.0 * best))
    state.queries += 1
    n = state.queries
    a_recent, a_history = max(1.0 / n, 1.0 / RECENT), max(1.0 / n, 1.0 / HISTORY)
    # float32 throughout (a Python float scalar does not promote), so no copy to cast back
    state.mu_recent = ((1 - a_recent) * state.mu_recent + a_recent * vec).astype(
        np.float32, copy=False
    )
    # the sum of the squared EMA weights: E||mu_recent||^2 for independent zero-mean unit vectors
    state.weight2 = (1 - a_recent) ** 2 * state.weight2 + a_recent**2
    state.mu_history = ((1 - a_history) * state.mu_history + a_history * vec).astype(
        np.float32, copy=False
    )
    if n > 1:
        back = _widen(state.previous[: min(n - 1, BACK)]) @ vec
        step = float(back[(n - 2) % BACK])
        a_step = max(1.0 / (n - 1), 1.0 / RECENT)
        state.locality[0] = (1 - a_step) * state.locality[0] + a_step * step
        if float(back.max()) < JUMP_BELOW:
            state.flags[i] |= FLAG_JUMP
    state.previous[(n - 1) % BACK] = vec
    if n <= POPULATION_VOTES or n % (n // POPULATION_VOTES) == 0:
        population.update(q.vector)
    # MMD with the linear kernel between the client's recent queries and the population
    # (whose mean, after centring, is zero), over what a sample of the population itself
    # would give: about 1 for a uniform crawl of the domain, several times more for a person.
    to_population = float(state.mu_recent.dot(state.mu_recent)) / state.weight2
    gap = state.mu_recent - state.mu_history
    drift = float(np.add.reduce(gap * gap)) / (state.weight2 + _null(a_history))
    counts = _flag_counts(state)
    filled = state.filled

    def rate(flag: int) -> float:  # as ClientState.rate
        return counts[flag.bit_length() - 1] / filled

    up, down = counts[FLAG_ASCENDING.bit_length() - 1], counts[FLAG_DESCENDING.bit_length() - 1]

    return {
        "coverage": _ramp(rate(FLAG_NOVEL), COVERAGE_LO, COVERAGE_HI),
        # only against a population that is not mostly this client
        "broadness": _ramp(-to_population, -BROAD_HI, -BROAD_LO)
        if population.count >= max(population_min, 10 * n)
        else 0.0,
        "locality": _ramp(-float(state.locality[0]), -LOCAL_HI, -LOCAL_LO) if n > 1 else 0.0,
        "jumps": _ramp(rate(FLAG_JUMP), JUMPS_LO, JUMPS_HI),
        "drift": _ramp(drift, 3.0, 6.0),
        "perturbation": _ramp(rate(FLAG_NEAR_DUP), 0.15, 0.35),
        "enumeration": _ramp(rate(FLAG_ENUM), 0.1, 0.4),
        "order": _order(up, down),
        "lookup": _ramp(rate(FLAG_LOOKUP), LOOKUP_LO, LOOKUP_HI),
        "template": _ramp(rate(FLAG_TEMPLATE), 0.5, 0.9),
        "sampling": _ramp(_sampling_mean(state), 0.2, 0.6),
        "prada": _prada(state) if prada else 0.0,
    }


__all__ = ["RING", "Population", "observe"]
