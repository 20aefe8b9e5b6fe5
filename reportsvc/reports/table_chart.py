"""The table report's optional chart: a bar or line chart of y columns over the x column."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.charts.legends import Legend
from reportlab.graphics.charts.linecharts import HorizontalLineChart
from reportlab.graphics.shapes import Drawing
from reportlab.lib import colors

from reportsvc.reports.datasets import Chart
from reportsvc.reports.table_format import format_value, is_number

#: Rows the chart is drawn from: the first ones, held while the table starts (the rest stream past).
CHART_MAX_POINTS = 500
PALETTE = (colors.HexColor("#2b6cb0"), colors.HexColor("#dd6b20"), colors.HexColor("#38a169"),
           colors.HexColor("#805ad5"), colors.HexColor("#e53e3e"))


def chart_drawing(chart: Chart, columns: Sequence[str], rows: Sequence[Sequence[Any]], width: float,
                  height: float) -> Drawing | None:
    """A Drawing of the chart from `rows`, or None when its columns are missing or nothing is numeric."""
    if chart.x not in columns or any(y not in columns for y in chart.y) or not rows:
        return None
    xi = columns.index(chart.x)
    yis = [columns.index(y) for y in chart.y]
    series = [[float(r[i]) if is_number(r[i]) else 0.0 for r in rows] for i in yis]
    if not any(any(v for v in s) for s in series):
        return None
    labels = [format_value(r[xi], None) for r in rows]
    step = max(1, len(labels) // 12)  # at most ~12 readable category labels
    drawing = Drawing(width, height)
    plot: Any = VerticalBarChart() if chart.type == "bar" else HorizontalLineChart()
    plot.x, plot.y, plot.width, plot.height = 40, 30, width - 160, height - 45
    plot.data = series
    plot.categoryAxis.categoryNames = [label if i % step == 0 else "" for i, label in enumerate(labels)]
    plot.categoryAxis.labels.fontSize = 6
    plot.categoryAxis.labels.angle = 30 if len(labels) > 6 else 0
    plot.categoryAxis.labels.boxAnchor = "ne" if len(labels) > 6 else "n"
    plot.valueAxis.labels.fontSize = 7
    plot.valueAxis.valueMin = min(0.0, min(min(s) for s in series))
    for index in range(len(series)):
        color = PALETTE[index % len(PALETTE)]
        if chart.type == "bar":
            plot.bars[index].fillColor = color
            plot.bars[index].strokeColor = None
        else:
            plot.lines[index].strokeColor = color
            plot.lines[index].strokeWidth = 1.5
    if chart.type == "bar":
        plot.barSpacing = 0 if len(labels) > 60 else 1
    drawing.add(plot)
    legend = Legend()
    legend.x, legend.y = width - 110, height - 20
    legend.fontSize = 7
    legend.alignment = "right"
    legend.colorNamePairs = [(PALETTE[i % len(PALETTE)], name) for i, name in enumerate(chart.y)]
    drawing.add(legend)
    return drawing
