"""Chart axes: whole-number count ticks, round clock-time ticks, gaps left open, end labels kept inside."""

from __future__ import annotations

import re

from reportsvc.web.charts import count_ticks, line_chart, time_ticks


def test_count_ticks_are_whole_numbers_from_zero_over_the_peak():
    assert count_ticks(0) == [0, 1]
    assert count_ticks(3) == [0, 1, 2, 3]
    assert count_ticks(5) == [0, 1, 2, 3, 4, 5]
    assert count_ticks(7) == [0, 2, 4, 6, 8]
    assert count_ticks(1.2) == [0, 1, 2]
    assert count_ticks(930) == [0, 200, 400, 600, 800, 1000]
    for peak in range(0, 5000, 7):
        ticks = count_ticks(peak)
        assert all(isinstance(t, int) for t in ticks) and ticks[-1] >= peak and len(ticks) <= 6


def test_time_ticks_fall_on_round_clock_times():
    start = 1_700_000_123.0
    ticks = time_ticks(start, start + 3600)
    assert len(ticks) <= 7 and all(t % 600 == 0 for t in ticks)
    assert all(b - a == 600 for a, b in zip(ticks, ticks[1:], strict=False))
    day = time_ticks(start, start + 86400)
    assert all(t % 14400 == 0 for t in day) and len(day) <= 7


def test_samples_an_hour_apart_are_placed_by_time_and_not_joined():
    start = 1_700_000_000.0
    times = [start + 10 * i for i in range(6)] + [start + 3000 + 10 * i for i in range(6)]
    svg = str(line_chart({"waiting": [1.0] * 12}, times, start=start, end=start + 3600, title="t", max_gap=60))
    assert svg.count('data-series="waiting"') == 2  # the silent hour is a gap, not a line
    first, second = re.findall(r'points="([^"]+)"', svg)
    x_first = float(first.split()[0].split(",")[0])
    x_second = float(second.split()[0].split(",")[0])
    plot_w = 640 - 44 - 14
    assert abs((x_second - x_first) - plot_w * 3000 / 3600) < 0.2


def test_labels_at_the_edges_are_anchored_inwards():
    start = 1_700_000_400.0 - 3600  # ends on a round 10 minutes: the last tick sits on the right edge
    svg = str(line_chart({"created": [0.0]}, [start], start=start, end=start + 3600, title="t", max_gap=60))
    anchors = re.findall(r'class="chart__x" x="([\d.]+)" y="\d+" text-anchor="(\w+)"', svg)
    assert anchors[-1][1] == "end"
