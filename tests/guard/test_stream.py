from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.guard import Guard, StreamGuard

SECRET = "ghp_" + "a1B2" * 9
TEXT = "Here is a long and harmless answer about gardening. " * 10 + f"Token: {SECRET} bye."


def _run(sg: StreamGuard, pieces: list[str]) -> tuple[str, bool]:
    sent = []
    for piece in pieces:
        update = sg.feed(piece)
        if update.blocked is not None:
            return "".join(sent), True
        sent.append(update.release)
    end = sg.finish()
    if end.blocked is not None:
        return "".join(sent), True
    return "".join(sent) + end.release, False


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 40), min_size=1, max_size=200))
def test_secret_split_anywhere_never_leaks(sizes: list[int]) -> None:
    pieces, at = [], 0
    for n in sizes:
        if at >= len(TEXT):
            break
        pieces.append(TEXT[at : at + n])
        at += n
    pieces.append(TEXT[at:])
    sent, blocked = _run(Guard.default().stream(), pieces)
    assert blocked
    assert SECRET[:8] not in sent
    assert TEXT.startswith(sent)


def test_clean_stream_is_released_whole() -> None:
    clean = "Water boils at 100 degrees Celsius at sea level. " * 20
    pieces = [clean[i : i + 5] for i in range(0, len(clean), 5)]
    assert _run(Guard.default().stream(), pieces) == (clean, False)
