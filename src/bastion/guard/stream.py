"""Output rules applied to a response while it streams.

:class:`StreamGuard` receives the response in pieces and releases text only once the
output pipeline has seen it with ``holdback`` characters of lookahead: a secret,
a canary or an image URL that arrives split over several pieces is caught while
its start is still held back, so a leak is cut before it reaches the client. The
pipeline re-checks the tail of the text seen so far (``window`` characters) every
``check_every`` characters, and the whole text when the stream ends. The holdback is
what a client waits for before the first words (the policy's ``stream_holdback``).
"""

from __future__ import annotations

from dataclasses import dataclass

from bastion.guard.base import Context, ScanResult
from bastion.guard.pipeline import Pipeline


@dataclass(frozen=True, slots=True)
class StreamUpdate:
    """Text that may be sent now, and the blocking result once the stream is cut."""

    release: str
    blocked: ScanResult | None = None


class StreamGuard:
    def __init__(
        self,
        pipeline: Pipeline,
        ctx: Context | None = None,
        *,
        holdback: int = 128,
        check_every: int | None = None,
        window: int = 4096,
    ) -> None:
        self.pipeline = pipeline
        self.ctx = ctx or Context()
        self.holdback = holdback
        # A check every quarter of the holdback: text is released at most that many
        # characters later than the holdback alone would allow.
        self.check_every = max(16, holdback // 4) if check_every is None else check_every
        self.window = max(window, holdback * 2)
        self._text: list[str] = []
        self._length = 0
        self._released = 0
        self._checked = 0
        self._blocked: ScanResult | None = None

    @property
    def text(self) -> str:
        return "".join(self._text)

    def _check(self, text: str) -> ScanResult | None:
        result = self.pipeline.scan(text[-self.window :], self.ctx)
        self._checked = len(text)
        return result if result.blocked else None

    def feed(self, piece: str) -> StreamUpdate:
        """Add a piece of the response; get what may be released so far."""
        if self._blocked is not None:
            return StreamUpdate("", self._blocked)
        self._text.append(piece)
        self._length += len(piece)
        if self._length - self._checked < self.check_every:
            return StreamUpdate("")
        text = "".join(self._text)
        self._text = [text]
        self._blocked = self._check(text)
        if self._blocked is not None:
            return StreamUpdate("", self._blocked)
        upto = max(self._released, len(text) - self.holdback)
        out = text[self._released : upto]
        self._released = upto
        return StreamUpdate(out)

    def finish(self) -> StreamUpdate:
        """The stream ended: check everything once more and release the rest."""
        if self._blocked is not None:
            return StreamUpdate("", self._blocked)
        text = "".join(self._text)
        result = self.pipeline.scan(text, self.ctx)
        if result.blocked:
            self._blocked = result
            return StreamUpdate("", result)
        out = text[self._released :]
        self._released = len(text)
        return StreamUpdate(out)
