"""The `operations` report's PDF: a pure function from `OperationsData` to bytes (ReportLab)."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from xml.sax.saxutils import escape

from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.shapes import Drawing, Line, Rect, String
from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    CondPageBreak,
    Flowable,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from reportsvc.reports.operations_data import FOOTER_LABEL, HourBucket, OperationsData, as_utc

# --------------------------------------------------------------------------- render: look and feel

# A restrained palette: one navy accent, greys for structure, two muted series colors.
INK = colors.HexColor("#1F2933")
MUTED = colors.HexColor("#616E7C")
ACCENT = colors.HexColor("#1F3A5F")
RULE = colors.HexColor("#CBD2D9")
HEADER_BG = colors.HexColor("#E4E9F0")
STRIPE_BG = colors.HexColor("#F5F7FA")
CARD_BG = colors.HexColor("#F0F4F8")
COMPLETED = colors.HexColor("#2F6F9F")
FAILED = colors.HexColor("#C2524A")
GRID = colors.HexColor("#E4E7EB")

FONT, FONT_BOLD, FONT_ITALIC = "Helvetica", "Helvetica-Bold", "Helvetica-Oblique"

PAGE_SIZE = A4
MARGIN = 18 * mm
FOOTER_Y = 10 * mm

# Styles are built once at import: render() is called per report and must stay cheap.
TITLE = ParagraphStyle("ops-title", fontName=FONT_BOLD, fontSize=18, leading=22, textColor=ACCENT)
SUBTITLE = ParagraphStyle("ops-subtitle", fontName=FONT, fontSize=9, leading=12, textColor=MUTED)
H2 = ParagraphStyle(
    "ops-h2",
    fontName=FONT_BOLD,
    fontSize=11.5,
    leading=14,
    textColor=ACCENT,
    spaceBefore=12,
    spaceAfter=5,
    keepWithNext=1,
)
BODY = ParagraphStyle("ops-body", fontName=FONT, fontSize=9, leading=11.5, textColor=INK, alignment=TA_LEFT)
# For a heading over a long, splittable table: keepWithNext would move the whole table to the next
# page, leaving a gap; a CondPageBreak before it keeps the heading off the page bottom instead.
H2_FLOW = ParagraphStyle("ops-h2-flow", parent=H2, keepWithNext=0)
NOTE = ParagraphStyle("ops-note", parent=BODY, fontName=FONT_ITALIC, textColor=MUTED)
CELL = ParagraphStyle("ops-cell", parent=BODY, fontSize=8.5, leading=10.5)
KPI_VALUE = ParagraphStyle("ops-kpi-value", fontName=FONT_BOLD, fontSize=15, leading=18, textColor=INK)
KPI_VALUE_BAD = ParagraphStyle("ops-kpi-value-bad", parent=KPI_VALUE, textColor=FAILED)
KPI_LABEL = ParagraphStyle("ops-kpi-label", fontName=FONT, fontSize=7.5, leading=9.5, textColor=MUTED)

_BASE_TABLE = [
    ("FONTNAME", (0, 0), (-1, -1), FONT),
    ("FONTSIZE", (0, 0), (-1, -1), 8.5),
    ("LEADING", (0, 0), (-1, -1), 10.5),
    ("TEXTCOLOR", (0, 0), (-1, -1), INK),
    ("FONTNAME", (0, 0), (-1, 0), FONT_BOLD),
    ("TEXTCOLOR", (0, 0), (-1, 0), ACCENT),
    ("BACKGROUND", (0, 0), (-1, 0), HEADER_BG),
    ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, STRIPE_BG]),
    ("LINEBELOW", (0, 0), (-1, 0), 0.8, ACCENT),
    ("LINEBELOW", (0, -1), (-1, -1), 0.5, RULE),
    ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ("TOPPADDING", (0, 0), (-1, -1), 3.5),
    ("BOTTOMPADDING", (0, 0), (-1, -1), 3.5),
    ("LEFTPADDING", (0, 0), (-1, -1), 6),
    ("RIGHTPADDING", (0, 0), (-1, -1), 6),
]


def _table(rows: list[list[Any]], widths: list[float], numeric_from: int, extra: Sequence[Any] = ()) -> Table:
    """A data table: shaded header row, zebra rows, columns from `numeric_from` right-aligned."""
    style = [*_BASE_TABLE, ("ALIGN", (numeric_from, 0), (-1, -1), "RIGHT"), *extra]
    return Table(rows, colWidths=widths, repeatRows=1, style=TableStyle(style), hAlign="LEFT")


def _fmt_int(n: int) -> str:
    return f"{n:,}"


def _fmt_pct(value: float | None) -> str:
    return "\u2014" if value is None else f"{value * 100:.1f}%"


def _fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "\u2014"
    if seconds < 10:
        return f"{seconds:.2f} s"
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        m, s = divmod(int(round(seconds)), 60)
        return f"{m} min {s:02d} s"
    h, rem = divmod(int(round(seconds)), 3600)
    return f"{h} h {rem // 60:02d} min"


def _fmt_ts(value: datetime) -> str:
    return as_utc(value).strftime("%Y-%m-%d %H:%M UTC")


def _window_label(hours: int) -> str:
    if hours % 24 == 0 and hours >= 48:
        return f"last {hours // 24} days"
    return f"last {hours} hour" + ("" if hours == 1 else "s")


# --------------------------------------------------------------------------- render: sections


def _heading(text: str, style: ParagraphStyle = H2) -> Paragraph:
    return Paragraph(escape(text), style)


def _kpis(data: OperationsData, width: float) -> Table:
    items = [
        ("Requested", _fmt_int(data.total)),
        ("Ready", _fmt_int(data.ready)),
        ("Failed", _fmt_int(data.failed)),
        ("Cancelled", _fmt_int(data.cancelled)),
        ("Pending / running", _fmt_int(data.in_progress)),
        ("Success rate", _fmt_pct(data.success_rate)),
    ]
    values = [Paragraph(v, KPI_VALUE) for _, v in items]
    labels = [Paragraph(escape(label), KPI_LABEL) for label, _ in items]
    col = width / len(items)
    style = [
        ("BACKGROUND", (0, 0), (-1, -1), CARD_BG),
        ("LINEBEFORE", (1, 0), (-1, -1), 2, colors.white),
        ("LINEABOVE", (0, 0), (-1, 0), 2, ACCENT),
        ("TOPPADDING", (0, 0), (-1, 0), 7),
        ("BOTTOMPADDING", (0, 0), (-1, 0), 0),
        ("TOPPADDING", (0, 1), (-1, 1), 1),
        ("BOTTOMPADDING", (0, 1), (-1, 1), 7),
        ("LEFTPADDING", (0, 0), (-1, -1), 8),
    ]
    if data.failed:
        values[2] = Paragraph(items[2][1], KPI_VALUE_BAD)
    return Table([values, labels], colWidths=[col] * len(items), style=TableStyle(style), hAlign="LEFT")


def _status_table(data: OperationsData, width: float) -> Table:
    rows: list[list[Any]] = [["Status", "Reports", "Share"]]
    for status, n in data.status_counts:
        share = _fmt_pct(n / data.total) if data.total else "\u2014"
        rows.append([status.capitalize(), _fmt_int(n), share])
    rows.append(["Total", _fmt_int(data.total), "100.0%" if data.total else "\u2014"])
    extra = [("FONTNAME", (0, -1), (-1, -1), FONT_BOLD), ("LINEABOVE", (0, -1), (-1, -1), 0.5, RULE)]
    return _table(rows, [width * 0.46, width * 0.27, width * 0.27], numeric_from=1, extra=extra)


def _duration_table(data: OperationsData, width: float) -> Table:
    labels = {"p50": "Median (p50)", "p90": "p90", "p95": "p95", "p99": "p99", "max": "Slowest"}
    rows: list[list[Any]] = [["Percentile", "Duration"]]
    rows += [[labels[k], _fmt_duration(v)] for k, v in data.durations]
    return _table(rows, [width * 0.55, width * 0.45], numeric_from=1)


def _nice_step(max_value: int, ticks: int = 5) -> int:
    raw = max(1.0, max_value / ticks)
    magnitude = 10 ** math.floor(math.log10(raw))
    for mult in (1, 2, 2.5, 5, 10):
        step = mult * magnitude
        if step >= raw and float(step).is_integer():
            return int(step)
    return int(10 * magnitude)


MAX_BARS = 168


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


def _throughput_chart(data: OperationsData, width: float) -> Drawing:
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


def _failures_section(data: OperationsData, width: float) -> Flowable:
    if not data.top_failures:
        return Paragraph("No failures in this window.", NOTE)
    rows: list[list[Any]] = [["#", "Error message", "Reports"]]
    for i, (message, n) in enumerate(data.top_failures, start=1):
        rows.append([str(i), Paragraph(escape(message), CELL), _fmt_int(n)])
    table = _table(rows, [width * 0.06, width * 0.78, width * 0.16], numeric_from=2)
    table.setStyle(TableStyle([("ALIGN", (0, 0), (0, -1), "RIGHT"), ("TEXTCOLOR", (0, 1), (0, -1), MUTED)]))
    return table


def _queues_section(data: OperationsData, width: float) -> Flowable:
    if not data.queues:
        return Paragraph("No queues reported.", NOTE)
    rows: list[list[Any]] = [["Queue", "Waiting", "Delayed", "Held", "Dead-lettered"]]
    for q in data.queues:
        rows.append(
            [
                Paragraph(escape(q.queue), CELL),
                _fmt_int(q.waiting),
                _fmt_int(q.delayed),
                _fmt_int(q.held),
                _fmt_int(q.dead),
            ]
        )
    extra = [("TEXTCOLOR", (4, i), (4, i), FAILED) for i, q in enumerate(data.queues, start=1) if q.dead]
    return _table(rows, [width * 0.36] + [width * 0.16] * 4, numeric_from=1, extra=extra)


def _side_by_side(left: list[Flowable], right: list[Flowable], width: float, gap: float) -> Table:
    col = (width - gap) / 2
    style = [
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 0),
        ("RIGHTPADDING", (0, 0), (-1, -1), 0),
        ("TOPPADDING", (0, 0), (-1, -1), 0),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 0),
    ]
    return Table([[left, "", right]], colWidths=[col, gap, col], style=TableStyle(style), hAlign="LEFT")


# --------------------------------------------------------------------------- render: canvas


class _NumberedCanvas(Canvas):
    """Canvas that defers each page so the footer can say "Page N of M" once M is known."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._page_states: list[dict[str, Any]] = []

    def showPage(self) -> None:  # noqa: N802 - ReportLab's name
        self._page_states.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._page_states)
        for state in self._page_states:
            self.__dict__.update(state)
            self._draw_footer(total)
            super().showPage()
        super().save()

    def _draw_footer(self, total: int) -> None:
        width, _ = self._pagesize
        self.saveState()
        self.setStrokeColor(RULE)
        self.setLineWidth(0.5)
        self.line(MARGIN, FOOTER_Y + 10, width - MARGIN, FOOTER_Y + 10)
        self.setFont(FONT, 7.5)
        self.setFillColor(MUTED)
        self.drawString(MARGIN, FOOTER_Y, FOOTER_LABEL)
        self.drawRightString(width - MARGIN, FOOTER_Y, f"Page {self._pageNumber} of {total}")
        self.restoreState()


def render(data: OperationsData, *, compress: bool = True) -> bytes:
    """Render `data` as a PDF (pure: same data, same bytes); `compress=False` keeps text greppable."""
    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf,
        pagesize=PAGE_SIZE,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN + 6 * mm,
        title=data.title,
        author="reportsvc",
        subject="Operations summary",
        creator="reportsvc",
        invariant=1,
        pageCompression=1 if compress else 0,
    )
    width = doc.width
    subtitle = (
        f"Window: {_fmt_ts(data.since)} \u2013 {_fmt_ts(data.until)} ({_window_label(data.window_hours)})"
        f"<br/>Generated {as_utc(data.generated_at).strftime('%Y-%m-%d %H:%M:%S UTC')}"
    )
    gap = 8 * mm
    half = (width - gap) / 2
    story: list[Flowable] = [
        Paragraph(escape(data.title), TITLE),
        Spacer(1, 2),
        Paragraph(subtitle, SUBTITLE),
        Spacer(1, 10),
        KeepTogether([_heading("At a glance"), _kpis(data, width)]),
        Spacer(1, 4),
        _side_by_side(
            [_heading("Reports by status"), _status_table(data, half)],
            [_heading("Duration of completed reports"), _duration_table(data, half)],
            width,
            gap,
        ),
        KeepTogether([_heading("Throughput"), _throughput_chart(data, width)]),
        KeepTogether(
            [
                _heading("Queue depths"),
                Paragraph(f"As of {_fmt_ts(data.generated_at)}, when this report was generated.", NOTE),
                Spacer(1, 4),
                _queues_section(data, width),
            ]
        ),
        CondPageBreak(40 * mm),
        _heading("Top failure reasons", H2_FLOW),
        _failures_section(data, width),
    ]
    doc.build(story, canvasmaker=_NumberedCanvas)
    return buf.getvalue()

