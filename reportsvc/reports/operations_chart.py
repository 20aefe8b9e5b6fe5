"""The `operations` PDF's throughput chart: finished reports per hour (or per bin of hours) as bars."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime

from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.shapes import Drawing, Line, Rect, String
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth

from reportsvc.reports.operations_data import HourBucket, OperationsData
from reportsvc.reports.operations_style import COMPLETED, FAILED, FONT, FONT_ITALIC, GRID, INK, MUTED, RULE

#: Most bars the chart draws: a week of hours; longer windows are binned (see `_bin_hours`).
MAX_BARS = 168


def _nice_step(max_value: int, ticks: int = 5) -> int:
    raw = max(1.0, max_value / ticks)
    magnitude = 10 ** math.floor(math.log10(raw))
    for mult in (1, 2, 2.5, 5, 10):
        step = mult * magnitude
        if step >= raw and float(step).is_integer():
            return int(step)
    return int(10 * magnitude)


def _bin_hours(n_hours: int) -> int:
    # Up to a week is drawn per hour; longer windows are binned on clock boundaries because sub-point
    # bars are unreadable and ReportLab's chart cost grows with every bar.
    for size in (1, 2, 3, 4, 6, 12, 24):
        if math.ceil(n_hours / size) <= MAX_BARS:
            return size
    return 24


def _label_step(n_hours: int, bin_hours: int, max_labels: int = 12) -> int:
    # Labels land on round clock hours (every 1, 2, 3, ... h or whole days) so they read as a time axis.
    for step in (1, 2, 3, 4, 6, 12, 24, 48, 72, 168, 336, 720):
        if step % bin_hours == 0 and math.ceil(n_hours / step) <= max_labels:
            return step
    return 720


def _epoch_hour(value: datetime) -> int:
    return int(value.timestamp()) // 3600


def _bins(buckets: Sequence[HourBucket], size: int) -> list[HourBucket]:
    if size == 1:
        return list(buckets)
    merged: dict[int, list[int]] = {}
    for b in buckets:
        slot = merged.setdefault(_epoch_hour(b.hour) // size, [0, 0])
        slot[0] += b.completed
        slot[1] += b.failed
    return [
        HourBucket(datetime.fromtimestamp(key * size * 3600, UTC), completed, failed)
        for key, (completed, failed) in sorted(merged.items())
    ]


def _axis_label(hour: datetime, step: int, multi_day: bool) -> str:
    if step >= 24 or (multi_day and hour.hour == 0):
        return hour.strftime("%d %b")
    return hour.strftime("%H:00")


def throughput_chart(data: OperationsData, width: float) -> Drawing:
    """Completed and failed reports per hour of the window (binned past a week), with legend and caption."""
    height = 62 * mm
    drawing = Drawing(width, height)
    n_hours = len(data.throughput)
    size = _bin_hours(n_hours)
    bins = _bins(data.throughput, size) or [HourBucket(data.until, 0, 0)]
    completed = [b.completed for b in bins]
    failed = [b.failed for b in bins]

    chart = VerticalBarChart()
    chart.x, chart.y = 34, 30
    chart.width, chart.height = width - 44, height - 56
    chart.data = [completed, failed]
    chart.strokeColor = None
    chart.bars.strokeColor = None
    chart.bars[0].fillColor = COMPLETED
    chart.bars[1].fillColor = FAILED
    chart.groupSpacing = 1 if len(bins) > 72 else 3
    chart.barSpacing = 0

    peak = max(max(completed), max(failed))
    step = _nice_step(peak)
    chart.valueAxis.valueMin = 0
    chart.valueAxis.valueStep = step
    chart.valueAxis.valueMax = max(step, math.ceil(peak / step) * step)
    chart.valueAxis.labels.fontName = FONT
    chart.valueAxis.labels.fontSize = 7
    chart.valueAxis.labels.fillColor = MUTED
    chart.valueAxis.labelTextFormat = "{:,.0f}".format
    chart.valueAxis.strokeColor = RULE
    chart.valueAxis.visibleGrid = 1
    chart.valueAxis.gridStrokeColor = GRID
    chart.valueAxis.gridStrokeWidth = 0.5
    chart.valueAxis.visibleTicks = 0

    # Category labels and ticks are drawn by hand, only where a label goes: the axis would build a
    # label object per bar, which dominates render time for long windows.
    chart.categoryAxis.categoryNames = [""] * len(bins)
    chart.categoryAxis.visibleLabels = 0
    chart.categoryAxis.visibleTicks = 0
    chart.categoryAxis.strokeColor = RULE
    drawing.add(chart)

    if peak == 0:
        drawing.add(
            String(
                chart.x + chart.width / 2,
                chart.y + chart.height / 2,
                "No reports finished in this window",
                fontName=FONT_ITALIC,
                fontSize=8.5,
                fillColor=MUTED,
                textAnchor="middle",
            )
        )

    label_step = _label_step(n_hours, size)
    multi_day = bins[0].hour.date() != bins[-1].hour.date()
    slot = chart.width / len(bins)
    for i, b in enumerate(bins):
        if _epoch_hour(b.hour) % label_step:
            continue
        x = chart.x + (i + 0.5) * slot
        drawing.add(Line(x, chart.y, x, chart.y - 2.5, strokeColor=RULE, strokeWidth=0.5))
        label = _axis_label(b.hour, label_step, multi_day)
        drawing.add(String(x, chart.y - 10, label, fontName=FONT, fontSize=7, fillColor=MUTED, textAnchor="middle"))

    # A hand-placed legend: ReportLab's Legend aligns swatches to the text top, which looks off.
    x = width - 8
    for color, label in ((FAILED, "Failed"), (COMPLETED, "Completed (ready)")):
        x -= stringWidth(label, FONT, 8)
        drawing.add(String(x, height - 10, label, fontName=FONT, fontSize=8, fillColor=INK))
        x -= 12
        drawing.add(Rect(x, height - 10.5, 8, 8, fillColor=color, strokeColor=None))
        x -= 14

    per = "hour" if size == 1 else f"{size} hours"
    caption = f"Reports finished per {per}"
    drawing.add(String(chart.x, height - 10, caption, fontName=FONT, fontSize=8, fillColor=MUTED))
    drawing.add(
        String(
            chart.x + chart.width / 2, 2, "Time (UTC)", fontName=FONT, fontSize=7, fillColor=MUTED, textAnchor="middle"
        )
    )
    return drawing
