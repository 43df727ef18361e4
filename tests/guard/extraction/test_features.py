"""Feature extraction reads untrusted prompts: it must take any text and stay bounded."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.guard.extraction.features import (
    DIM,
    KIND_TOKENS,
    ORDER_TOKENS,
    _sort_key,
    extract,
    order_features,
    sampling_level,
    simhash,
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=3),
    max_leaves=8,
)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=600))
def test_any_text_gives_bounded_deterministic_features(text: str) -> None:
    a, b = extract(text), extract(text)
    assert a.vector.shape == (DIM,)
    assert np.all(np.isfinite(a.vector))
    norm = float(np.linalg.norm(a.vector))
    assert abs(norm - 1.0) < 1e-4 or norm == 0.0
    assert np.array_equal(a.vector, b.vector)
    assert (a.simhash, a.exact, a.head, a.tail, a.slot) == (b.simhash, b.exact, b.head, b.tail,
                                                            b.slot)  # fmt: skip
    assert 0 <= a.simhash < 1 << 64
    assert 0 <= a.head < 1 << 32
    assert 0 <= a.tail < 1 << 32


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["logprobs", "top_logprobs", "n", "best_of", "x"]),
                       json_values))  # fmt: skip
def test_sampling_level_is_a_fraction_for_any_request(params: dict[str, object]) -> None:
    assert 0.0 <= sampling_level(params) <= 1.0


def test_huge_prompts_are_read_only_up_to_a_bound() -> None:
    f = extract("word " * 200_000)
    assert f.length <= 4096


def test_swapped_and_repeated_words_keep_the_simhash_but_not_the_exact_hash() -> None:
    a = extract("How do I parse a JSON file with the json module?")
    b = extract("How do I parse a JSON JSON file with the module json?")
    assert a.simhash == b.simhash
    assert a.exact != b.exact


def test_requests_for_distributions_are_recognised() -> None:
    assert sampling_level({}) == 0.0
    assert sampling_level({"logprobs": True, "top_logprobs": 5}) == 1.0
    assert sampling_level({"n": 8}) == 1.0
    assert 0 < sampling_level({"logprobs": True}) < 1
    assert sampling_level({"n": True, "logprobs": False}) == 0.0


def test_enumerated_slots() -> None:
    assert extract("Describe catalogue item 41 please").slot == ("number", 41)
    assert extract("List words starting with B").slot == ("letter", ord("B"))
    assert extract("a plain question").slot is None


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=600))
def test_order_features_are_bounded_for_any_text(text: str) -> None:
    q = extract(text)
    assert q.prefixes.shape == q.keys.shape == q.suffixes.shape == (ORDER_TOKENS,)
    assert int(q.keys.max(initial=0)) < 37**3
    assert q.kinds.size == min(q.tokens, KIND_TOKENS)
    assert set(q.kinds.tolist()) <= {0, 1, 2}


ascii_words = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=8)


@settings(max_examples=300, deadline=None)
@given(ascii_words, ascii_words)
def test_sort_keys_keep_the_order_of_the_first_three_characters(a: str, b: str) -> None:
    ka, kb = int(order_features([a])[1][0]), int(order_features([b])[1][0])
    x, y = a[:3], b[:3]
    assert (ka > kb) - (ka < kb) == (x > y) - (x < y)
    assert int(order_features([a.upper()])[1][0]) == ka  # case folded


def test_prompts_sharing_a_template_share_their_leading_prefix_hashes() -> None:
    a = extract("What does json.dumps do?")
    b = extract("What does json.loads do?")
    differ = np.flatnonzero(a.prefixes != b.prefixes)
    assert differ[0] == 4  # what, does, json, ".", then the slot
    assert a.keys[4] < b.keys[4]  # "dumps" sorts before "loads"
    assert np.array_equal(a.prefixes[:4], b.prefixes[:4])


def test_prompts_sharing_a_template_share_their_trailing_suffix_hashes() -> None:
    a = extract("Explain json.dumps to me like I'm new to Python.")
    b = extract("Explain os.path.join to me like I'm new to Python.")
    same = a.suffixes == b.suffixes
    assert same[:10].all()  # ".", python, to, new, m, "'", i, like, me, to
    assert not same[10]  # "dumps" and "join": the filler ends here
    assert (a.tokens, b.tokens) == (14, 16)


def test_token_kinds_tell_words_function_words_and_punctuation_apart() -> None:
    q = extract("What is the capital of France?")
    assert q.kinds.tolist() == [2, 2, 2, 1, 2, 1, 0]


def _reference_simhash(grams: list[int]) -> int:
    votes = [sum(1 if g >> k & 1 else -1 for g in grams) for k in range(64)]
    return sum(1 << k for k, v in enumerate(votes) if v > 0)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, (1 << 64) - 1), max_size=40))
def test_simhash_is_the_bitwise_majority_vote(grams: list[int]) -> None:
    arr = np.array(grams, dtype=np.uint64)
    assert simhash(arr) == _reference_simhash(grams)
    assert simhash(np.repeat(arr, 2)[::2]) == _reference_simhash(grams)  # a strided view


def _reference_sort_key(token: str) -> int:
    codes = [1 + "0123456789abcdefghijklmnopqrstuvwxyz".index(c.lower()) for c in token
             if c.isascii() and c.isalnum()][:3]  # fmt: skip
    key = 0
    for code in codes + [0] * (3 - len(codes)):
        key = key * 37 + code
    return key


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=6) | ascii_words)
def test_sort_key_reads_the_first_three_ascii_letters_or_digits(token: str) -> None:
    assert _sort_key(token) == _reference_sort_key(token)
