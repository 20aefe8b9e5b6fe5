"""The dashboard's charts read back in a real browser: time axes proportional to time, whole-number counts,
labels inside the picture, and an hour of silence shown as a gap."""

from __future__ import annotations

import json
import re
import time

import pytest

pytestmark = pytest.mark.browser

READ_AXES = """() => Array.from(document.querySelectorAll('svg.chart')).map(svg => ({
  title: svg.getAttribute('aria-label'),
  width: svg.viewBox.baseVal.width,
  x: Array.from(svg.querySelectorAll('text.chart__x')).map(t => {
    const b = t.getBBox();
    return {text: t.textContent, t: Number(t.dataset.t), x: Number(t.getAttribute('x')),
            left: b.x, right: b.x + b.width};
  }),
  y: Array.from(svg.querySelectorAll('text.chart__y')).map(t => ({text: t.textContent, left: t.getBBox().x})),
  runs: Array.from(svg.querySelectorAll('polyline[data-series=waiting]')).length,
}))"""


def test_chart_axes_read_back_true(page, redis_client, client) -> None:  # type: ignore[no-untyped-def]
    from reportsvc.metrics import DEPTHS_GATE_KEY, DEPTHS_KEY

    now = time.time()
    # Queue depth samples: a burst 58 minutes ago, an hour of silence, then the last two minutes.
    times = [now - 3480 + 10 * i for i in range(10)] + [now - 120 + 10 * i for i in range(12)]
    for i, t in enumerate(times):
        sample = {"t": round(t, 1), "q": {"reports": [i % 4, 0, 1, 0], "notifications": [0, 0, 0, 0]}}
        redis_client.lpush(DEPTHS_KEY, json.dumps(sample))
    redis_client.set(DEPTHS_GATE_KEY, "1", ex=60)  # no fresh sample from the page itself
    for _ in range(3):
        client.post("/reports", json={})
    page.goto("/console/dashboard")
    charts = page.evaluate(READ_AXES)
    assert len(charts) >= 4
    for chart in charts:
        labels = [x["text"] for x in chart["x"]]
        assert len(labels) >= 3 and len(set(labels)) == len(labels), (chart["title"], labels)
        stamps = [x["t"] for x in chart["x"]]
        assert stamps == sorted(stamps)
        # Proportional: pixels per second are the same between every pair of neighbouring ticks.
        slopes = [(b["x"] - a["x"]) / (b["t"] - a["t"]) for a, b in zip(chart["x"], chart["x"][1:], strict=False)]
        assert max(slopes) - min(slopes) < 1e-3, (chart["title"], slopes)
        for x in chart["x"]:
            assert x["left"] >= 0 and x["right"] <= chart["width"], (chart["title"], x)
        for y in chart["y"]:
            assert re.fullmatch(r"\d{1,3}(,\d{3})*", y["text"]), (chart["title"], y["text"])
            assert y["left"] >= 0
        counts = [int(y["text"].replace(",", "")) for y in chart["y"]]
        assert counts == sorted(counts) and counts[0] == 0
    depth = next(c for c in charts if c["title"] == "Queue reports: messages over time")
    assert depth["runs"] == 2  # the silent hour is a gap between two lines, not a straight line across it
    assert [int(y["text"]) for y in depth["y"]] == [0, 1, 2, 3]
