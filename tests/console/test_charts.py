"""The SVG bar geometry: heights proportional to counts, stacked, largest series first."""

from __future__ import annotations

from bastion.console.charts import stacked_bars


def test_stacked_bars_geometry() -> None:
    chart = stacked_bars(
        ["00:00", "01:00"],
        {("00:00", "a"): 2, ("00:00", "b"): 6, ("01:00", "a"): 4, ("01:00", "c"): 0},
    )
    assert chart.peak == 8
    assert [(name, total) for _, name, total in chart.legend] == [("a", 6), ("b", 6)]
    first = [b for b in chart.bars if b.title.startswith("00:00")]
    assert sum(b.height for b in first) == chart.baseline - 10  # the tallest bar fills the plot
    heights = {b.title: b.height for b in chart.bars}
    assert heights["00:00: b 6"] == 3 * heights["00:00: a 2"]
    assert heights["01:00: a 4"] == 2 * heights["00:00: a 2"]
    # stacked: each segment starts where the one below it ends
    low, high = sorted(first, key=lambda b: -b.y)
    assert high.y + high.height == low.y


def test_no_counts_is_an_empty_chart() -> None:
    chart = stacked_bars(["00:00"], {("00:00", "a"): 0})
    assert chart.empty
    assert chart.legend == ()
    assert chart.peak == 0
