"""Server-drawn SVG line charts for the dashboard: a time axis proportional to time, whole-number count axes.

Every sample sits at its own time (an hour of silence takes an hour's width, and the line breaks across it so
the gap shows), time ticks fall on round clock times (every 1, 2, 5, 10, 15, 30 minutes or 1, 2, 3, 4, 6,
12 hours, whichever gives at most MAX_TIME_TICKS), count ticks are whole numbers (steps of 1, 2, 5, 10, ...),
and the labels at either end are anchored so they stay inside the picture.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

from markupsafe import Markup, escape

COLORS = {"created": "#2754c5", "completed": "#17663a", "failed": "#b42318",
          "waiting": "#2754c5", "delayed": "#c08a00", "held": "#6b4fbb", "dead": "#b42318"}
MAX_TIME_TICKS = 7
MAX_COUNT_TICKS = 5
#: Round steps for the time axis, in seconds.
TIME_STEPS = (60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 14400, 21600, 43200, 86400)
#: A label is about this wide per character at font-size 10 (used to keep end labels inside).
CHAR_WIDTH = 6.0


def count_ticks(peak: float) -> list[int]:
    """Whole-number ticks from 0 to a round top at or above `peak`, at most MAX_COUNT_TICKS + 1 of them."""
    top = max(1, math.ceil(peak))
    for exp in range(0, 12):
        for base in (1, 2, 5):
            step = base * 10**exp
            if math.ceil(top / step) <= MAX_COUNT_TICKS:
                return list(range(0, step * math.ceil(top / step) + 1, step))
    return [0, top]


def time_ticks(start: float, end: float) -> list[float]:
    """Round clock times (Unix seconds, UTC) inside [start, end], at most MAX_TIME_TICKS of them."""
    span = max(end - start, 1.0)
    step = next((s for s in TIME_STEPS if span / s <= MAX_TIME_TICKS), TIME_STEPS[-1])
    first = math.ceil(start / step) * step
    return [float(t) for t in range(int(first), int(end) + 1, step)]


def _time_label(t: float, step: float) -> str:
    moment = datetime.fromtimestamp(t, UTC)
    return moment.strftime("%H:%M") if step < 86400 else moment.strftime("%m-%d")


def _runs(times: list[float], values: list[float], max_gap: float) -> list[list[tuple[float, float]]]:
    """Consecutive (time, value) points split wherever two samples are more than max_gap apart."""
    runs: list[list[tuple[float, float]]] = []
    for t, v in zip(times, values, strict=False):
        if not runs or t - runs[-1][-1][0] > max_gap:
            runs.append([])
        runs[-1].append((t, v))
    return runs


def line_chart(series: dict[str, list[float]], times: list[float], *, start: float, end: float, title: str,
               max_gap: float, width: int = 640, height: int = 200) -> Markup:
    """A multi-series line chart over [start, end] (Unix seconds) as inline SVG; samples further apart than
    max_gap seconds are not joined."""
    left, right, top, bottom = 44, 14, 12, 24
    plot_w, plot_h = width - left - right, height - top - bottom
    span = max(end - start, 1.0)
    peak = max((max(v) for v in series.values() if v), default=0)
    yticks = count_ticks(peak)
    y_max = yticks[-1]
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
             f'aria-label="{escape(title)}" preserveAspectRatio="xMidYMid meet" data-start="{start:.0f}" '
             f'data-end="{end:.0f}"><title>{escape(title)}</title>']

    def x_at(t: float) -> float:
        return left + plot_w * (t - start) / span

    def y_at(v: float) -> float:
        return top + plot_h * (1 - v / y_max)

    for value in yticks:
        y = y_at(value)
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#dde1e7" '
                     'stroke-width="1"/>')
        parts.append(f'<text class="chart__y" x="{left - 6}" y="{y + 3.5:.1f}" text-anchor="end" font-size="10" '
                     f'fill="#5d6678">{value:,}</text>')
    ticks = time_ticks(start, end)
    step = ticks[1] - ticks[0] if len(ticks) > 1 else span
    for t in ticks:
        x = x_at(t)
        label = _time_label(t, step)
        half = len(label) * CHAR_WIDTH / 2
        # Anchor an end label inwards so it is never cut off at the picture's edge.
        anchor = "end" if x + half > width else "start" if x - half < 0 else "middle"
        parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top + plot_h}" y2="{top + plot_h + 4}" '
                     'stroke="#9aa3b2" stroke-width="1"/>')
        parts.append(f'<text class="chart__x" x="{x:.1f}" y="{height - 6}" text-anchor="{anchor}" font-size="10" '
                     f'fill="#5d6678" data-t="{t:.0f}">{escape(label)}</text>')
    if not times:
        parts.append(f'<text x="{left + plot_w / 2}" y="{top + plot_h / 2}" text-anchor="middle" '
                     f'font-size="12" fill="#5d6678">No samples yet</text>')
    for name, values in series.items():
        color = COLORS.get(name, "#5d6678")
        for run in _runs(times, values, max_gap):
            points = " ".join(f"{x_at(t):.1f},{y_at(v):.1f}" for t, v in run)
            if len(run) == 1:
                cx, cy = points.split(",")
                parts.append(f'<circle cx="{cx}" cy="{cy}" r="2.5" fill="{color}"><title>{escape(name)}</title>'
                             '</circle>')
            else:
                parts.append(f'<polyline points="{points}" fill="none" stroke="{color}" stroke-width="1.8" '
                             f'stroke-linejoin="round" data-series="{escape(name)}"><title>{escape(name)}</title>'
                             '</polyline>')
    parts.append("</svg>")
    return Markup("".join(parts))


def legend(names: list[str]) -> Markup:
    """Colour keys for a chart."""
    items = "".join(f'<span class="nowrap"><svg width="10" height="10" aria-hidden="true"><rect width="10" '
                    f'height="10" rx="2" fill="{COLORS.get(n, "#5d6678")}"/></svg> {escape(n)}</span> '
                    for n in names)
    return Markup(f'<p class="small muted">{items}</p>')
