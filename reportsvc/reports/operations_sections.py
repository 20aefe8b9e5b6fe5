"""The `operations` PDF's blocks: headings, the KPI strip, and the status, duration, queue and failure tables."""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.styles import ParagraphStyle
from reportlab.platypus import Flowable, Paragraph, Table, TableStyle

from reportsvc.reports import bidi
from reportsvc.reports.operations_data import OperationsData
from reportsvc.reports.operations_style import (
    ACCENT,
    CARD_BG,
    CELL,
    FAILED,
    FONT_BOLD,
    H2,
    KPI_LABEL,
    KPI_VALUE,
    KPI_VALUE_BAD,
    MUTED,
    NOTE,
    RULE,
    data_table,
    fmt_duration,
    fmt_int,
    fmt_pct,
)


def text_paragraph(text: str, style: ParagraphStyle, width: float) -> Paragraph:
    """Text a user or an error wrote (escaped). Right-to-left text is broken into lines that fit `width`
    here, each put in visual order (Paragraph would reorder nothing), and right-aligned."""
    if not bidi.has_rtl(text):
        return Paragraph(escape(text), style)
    lines, rtl = bidi.wrapped(text, style.fontName, style.fontSize, width)
    if rtl:
        style = ParagraphStyle(f"{style.name}-rtl", parent=style, alignment=TA_RIGHT)
    return Paragraph("<br/>".join(escape(line) for line in lines), style)


def heading(text: str, style: ParagraphStyle = H2) -> Paragraph:
    """A section heading (escaped text)."""
    return Paragraph(escape(text), style)


def kpis(data: OperationsData, width: float) -> Table:
    """The "at a glance" strip: six headline figures on one card, failures in red when there are any."""
    items = [
        ("Requested", fmt_int(data.total)),
        ("Ready", fmt_int(data.ready)),
        ("Failed", fmt_int(data.failed)),
        ("Cancelled", fmt_int(data.cancelled)),
        ("Pending / running", fmt_int(data.in_progress)),
        ("Success rate", fmt_pct(data.success_rate)),
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


def status_table(data: OperationsData, width: float) -> Table:
    """Reports per status with their share, and a total row."""
    rows: list[list[Any]] = [["Status", "Reports", "Share"]]
    for status, n in data.status_counts:
        share = fmt_pct(n / data.total) if data.total else "\u2014"
        rows.append([status.capitalize(), fmt_int(n), share])
    rows.append(["Total", fmt_int(data.total), "100.0%" if data.total else "\u2014"])
    extra = [("FONTNAME", (0, -1), (-1, -1), FONT_BOLD), ("LINEABOVE", (0, -1), (-1, -1), 0.5, RULE)]
    return data_table(rows, [width * 0.46, width * 0.27, width * 0.27], numeric_from=1, extra=extra)


def duration_table(data: OperationsData, width: float) -> Table:
    """Duration percentiles of the completed reports."""
    labels = {"p50": "Median (p50)", "p90": "p90", "p95": "p95", "p99": "p99", "max": "Slowest"}
    rows: list[list[Any]] = [["Percentile", "Duration"]]
    rows += [[labels[k], fmt_duration(v)] for k, v in data.durations]
    return data_table(rows, [width * 0.55, width * 0.45], numeric_from=1)


def failures_section(data: OperationsData, width: float) -> Flowable:
    """The most frequent failure messages, ranked, or a note that there were none."""
    if not data.top_failures:
        return Paragraph("No failures in this window.", NOTE)
    rows: list[list[Any]] = [["#", "Error message", "Reports"]]
    for i, (message, n) in enumerate(data.top_failures, start=1):
        rows.append([str(i), text_paragraph(message, CELL, width * 0.78 - 12), fmt_int(n)])  # 6 pt padding a side
    table = data_table(rows, [width * 0.06, width * 0.78, width * 0.16], numeric_from=2)
    table.setStyle(TableStyle([("ALIGN", (0, 0), (0, -1), "RIGHT"), ("TEXTCOLOR", (0, 1), (0, -1), MUTED)]))
    return table


def queues_section(data: OperationsData, width: float) -> Flowable:
    """Depth of each queue by state, dead-lettered counts in red, or a note that none were reported."""
    if not data.queues:
        return Paragraph("No queues reported.", NOTE)
    rows: list[list[Any]] = [["Queue", "Waiting", "Delayed", "Held", "Dead-lettered"]]
    for q in data.queues:
        rows.append(
            [
                Paragraph(escape(q.queue), CELL),
                fmt_int(q.waiting),
                fmt_int(q.delayed),
                fmt_int(q.held),
                fmt_int(q.dead),
            ]
        )
    extra = [("TEXTCOLOR", (4, i), (4, i), FAILED) for i, q in enumerate(data.queues, start=1) if q.dead]
    return data_table(rows, [width * 0.36] + [width * 0.16] * 4, numeric_from=1, extra=extra)


def side_by_side(left: list[Flowable], right: list[Flowable], width: float, gap: float) -> Table:
    """Two columns of flowables with `gap` between them, top-aligned and unpadded."""
    col = (width - gap) / 2
    style = [
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 0),
        ("RIGHTPADDING", (0, 0), (-1, -1), 0),
        ("TOPPADDING", (0, 0), (-1, -1), 0),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 0),
    ]
    return Table([[left, "", right]], colWidths=[col, gap, col], style=TableStyle(style), hAlign="LEFT")
