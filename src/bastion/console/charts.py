"""Charts drawn on the server as SVG geometry: no script, no external library.

:func:`stacked_bars` turns counts per (bucket, series) into rectangles the template writes
as ``<rect>`` elements; colours come from CSS classes (``series-0`` ...), so the chart
follows the stylesheet and needs no inline style.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

SERIES_CLASSES = 8


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    series: int  # index into the legend, for the CSS class
    title: str  # the tooltip: bucket, series and count


@dataclass(frozen=True, slots=True)
class Chart:
    width: int
    height: int
    bars: tuple[Bar, ...]
    legend: tuple[tuple[int, str, int], ...]  # (series index, name, total)
    peak: int  # the y axis' top value
    labels: tuple[tuple[float, str], ...]  # x positions of bucket labels
    baseline: float

    @property
    def empty(self) -> bool:
        return not self.bars


def stacked_bars(
    buckets: Sequence[str],
    counts: Mapping[tuple[str, str], int],
    *,
    width: int = 720,
    height: int = 220,
    label_every: int = 4,
) -> Chart:
    """One stacked bar per bucket (in order), one segment per series (by total, largest
    first). ``counts`` maps (bucket, series) to a count; zero and negative counts are ignored."""
    totals: dict[str, int] = {}
    for (_, series), n in counts.items():
        if n > 0:
            totals[series] = totals.get(series, 0) + n
    order = sorted(totals, key=lambda s: (-totals[s], s))
    index = {s: i for i, s in enumerate(order)}
    per_bucket = [sum(max(0, counts.get((b, s), 0)) for s in order) for b in buckets]
    peak = max(per_bucket, default=0)
    top, bottom, left = 10.0, 30.0, 40.0
    plot_h = height - top - bottom
    slot = (width - left) / max(1, len(buckets))
    bars: list[Bar] = []
    labels: list[tuple[float, str]] = []
    for i, bucket in enumerate(buckets):
        x = left + i * slot + slot * 0.1
        y = height - bottom
        for series in order:
            n = counts.get((bucket, series), 0)
            if n <= 0:
                continue
            h = plot_h * n / peak
            y -= h
            bars.append(Bar(round(x, 1), round(y, 1), round(slot * 0.8, 1), round(h, 1),
                            index[series] % SERIES_CLASSES, f"{bucket}: {series} {n}"))  # fmt: skip
        if i % label_every == 0:
            labels.append((round(left + i * slot, 1), bucket))
    legend = tuple((index[s] % SERIES_CLASSES, s, totals[s]) for s in order)
    return Chart(width, height, tuple(bars), legend, peak, tuple(labels), height - bottom)
