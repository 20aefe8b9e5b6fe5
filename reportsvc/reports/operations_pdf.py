"""The `operations` report's PDF: a pure function from `OperationsData` to bytes (ReportLab).

This module lays out the document (page template, numbered footer, order of the blocks); the look lives
in `operations_style`, the throughput chart in `operations_chart`, the tables in `operations_sections`.
"""

from __future__ import annotations

import io
from typing import Any

from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import CondPageBreak, Flowable, KeepTogether, Paragraph, SimpleDocTemplate, Spacer

from reportsvc.reports.operations_chart import throughput_chart
from reportsvc.reports.operations_data import FOOTER_LABEL, OperationsData, as_utc
from reportsvc.reports.operations_sections import (
    duration_table,
    failures_section,
    heading,
    kpis,
    queues_section,
    side_by_side,
    status_table,
    text_paragraph,
)
from reportsvc.reports.operations_style import (
    FONT,
    FOOTER_Y,
    H2_FLOW,
    MARGIN,
    MUTED,
    NOTE,
    PAGE_SIZE,
    RULE,
    SUBTITLE,
    TITLE,
    fmt_ts,
    window_label,
)


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
        f"Window: {fmt_ts(data.since)} \u2013 {fmt_ts(data.until)} ({window_label(data.window_hours)})"
        f"<br/>Generated {as_utc(data.generated_at).strftime('%Y-%m-%d %H:%M:%S UTC')}"
    )
    gap = 8 * mm
    half = (width - gap) / 2
    story: list[Flowable] = [
        text_paragraph(data.title, TITLE, width),
        Spacer(1, 2),
        Paragraph(subtitle, SUBTITLE),
        Spacer(1, 10),
        KeepTogether([heading("At a glance"), kpis(data, width)]),
        Spacer(1, 4),
        side_by_side(
            [heading("Reports by status"), status_table(data, half)],
            [heading("Duration of completed reports"), duration_table(data, half)],
            width,
            gap,
        ),
        KeepTogether([heading("Throughput"), throughput_chart(data, width)]),
        KeepTogether(
            [
                heading("Queue depths"),
                Paragraph(f"As of {fmt_ts(data.generated_at)}, when this report was generated.", NOTE),
                Spacer(1, 4),
                queues_section(data, width),
            ]
        ),
        CondPageBreak(40 * mm),
        heading("Top failure reasons", H2_FLOW),
        failures_section(data, width),
    ]
    doc.build(story, canvasmaker=_NumberedCanvas)
    return buf.getvalue()
