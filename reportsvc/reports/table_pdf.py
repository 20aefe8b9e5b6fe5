"""The table report's PDF, drawn row by row as the rows stream in (pure: TableData in, bytes out).

Memory stays bounded by the page, not the result: only the first rows are held (to size the columns and
draw the chart), every other row is drawn and dropped. "Page N of M" works in one pass: each footer
draws a shared form XObject that is defined once, after the last page, with the page count.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from datetime import UTC
from io import BytesIO
from typing import Any

from reportlab.graphics import renderPDF
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

from reportsvc.reports import bidi, fonts
from reportsvc.reports.table_chart import CHART_MAX_POINTS, chart_drawing
from reportsvc.reports.table_data import TableData
from reportsvc.reports.table_format import format_value, is_number, right_aligned

FONT, BOLD, SIZE, LEADING = fonts.REGULAR, fonts.BOLD, 8, 10
MARGIN, PAD, MAX_LINES = 36, 3, 4
#: Rows held to measure column widths (and the chart's points, up to CHART_MAX_POINTS).
SAMPLE_ROWS = 200
MIN_COLUMN, MAX_TEXT_COLUMN = 28.0, 220.0
CHART_HEIGHT = 190
ZEBRA = colors.HexColor("#f2f4f7")
HEADER_FILL = colors.HexColor("#dde3ea")
PAGE_COUNT_FORM = "pagecount"


def render(data: TableData) -> bytes:
    """The whole PDF: title block, optional chart, then the table over as many pages as it needs."""
    return _Layout(data).draw()


class _Layout:
    """One render: the canvas, the column geometry and the running position."""

    def __init__(self, data: TableData) -> None:
        self.data = data
        self.out = BytesIO()
        rows = iter(data.rows)
        held = CHART_MAX_POINTS if data.chart else SAMPLE_ROWS
        self.head = list(itertools.islice(rows, held))
        self.rest: Iterator[Sequence[Any]] = rows
        self.specs = [data.column_specs.get(c) for c in data.columns]
        self.right = [right_aligned(spec, next((r[i] for r in self.head if r[i] is not None), None))
                      for i, spec in enumerate(self.specs)]
        self.labels = [bidi.shaped(spec.label if spec and spec.label else name) for name, spec in zip(
            data.columns, self.specs, strict=True)]
        natural = self._natural_widths()
        portrait_width = A4[0] - 2 * MARGIN
        self.pagesize = A4 if sum(natural) <= portrait_width else landscape(A4)
        self.widths = _fit(natural, self.right, self.pagesize[0] - 2 * MARGIN)
        self.canvas = Canvas(self.out, pagesize=self.pagesize, pageCompression=1, invariant=True)
        self.canvas.setTitle(data.title)
        self.page = 0
        self.y = 0.0
        self.rows_done = 0
        #: Running totals: whole numbers stay int (shown without decimals) until a fraction arrives.
        self.sums: list[int | float | None] = [0 if name in data.totals else None for name in data.columns]

    # -- geometry --------------------------------------------------------------------------------------
    def _natural_widths(self) -> list[float]:
        widths = []
        for i, label in enumerate(self.labels):
            spec = self.specs[i]
            cells = [stringWidth(_text(r[i], spec), FONT, SIZE) for r in self.head[:SAMPLE_ROWS]]
            header = stringWidth(label, BOLD, SIZE)
            if self.right[i]:
                # Later rows may hold bigger numbers than the sample, and a total is bigger still: room for
                # a third more, and for a nine-digit total (numbers never wrap).
                floor = stringWidth(format_value(999_999_999.99, spec), BOLD, SIZE) \
                    if self.data.columns[i] in self.data.totals else 0.0
                widest = max(header, max(cells, default=0) * 1.34, floor) + 2 * PAD
            else:
                # A fifth more than the sample's widest, so slightly longer values further down stay on one line.
                widest = min(max([header, *(w * 1.2 for w in cells)]) + 2 * PAD, MAX_TEXT_COLUMN)
            widths.append(max(MIN_COLUMN, widest))
        return widths

    # -- drawing ---------------------------------------------------------------------------------------
    def draw(self) -> bytes:
        self._new_page(first=True)
        for row in itertools.chain(self.head, self.rest):
            self._row(row)
        self._end()
        return self.out.getvalue()

    def _new_page(self, first: bool = False) -> None:
        c = self.canvas
        if not first:
            self._footer()
            c.showPage()
            self._report_progress()
        self.page += 1
        self.y = self.pagesize[1] - MARGIN
        if first:
            self._title_block()
        self._header_row()

    def _title_block(self) -> None:
        c, data = self.canvas, self.data
        room = self.pagesize[0] - 2 * MARGIN
        c.setFont(BOLD, 16)
        title = bidi.visual(data.title)
        if bidi.is_rtl(bidi.shaped(data.title)):  # a right-to-left title starts at the right margin
            c.drawRightString(MARGIN + room, self.y - 16, title)
        else:
            c.drawString(MARGIN, self.y - 16, title)
        self.y -= 26
        c.setFont(FONT, 9)
        lines = [bidi.wrapped(data.description, FONT, 9, room)] if data.description else []
        used = "; ".join(f"{label}: {value}" for label, value in data.params) or "none"
        lines.append(bidi.wrapped(f"Parameters: {used}", FONT, 9, room))
        # The same form as the operations report's "Generated" line.
        generated = data.generated_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        lines.append(([f"Generated at {generated}"], False))
        for block, rtl in lines:
            for line in block:
                if rtl:
                    c.drawRightString(MARGIN + room, self.y - 9, line)
                else:
                    c.drawString(MARGIN, self.y - 9, line)
                self.y -= 12
        self.y -= 6
        if data.chart is not None:
            drawing = chart_drawing(data.chart, data.columns, self.head, self.pagesize[0] - 2 * MARGIN, CHART_HEIGHT)
            if drawing is not None:
                renderPDF.draw(drawing, c, MARGIN, self.y - CHART_HEIGHT)
                self.y -= CHART_HEIGHT + 12

    def _header_row(self) -> None:
        self._cells([self._lines(t, i, BOLD) for i, t in enumerate(self.labels)], self._height(self.labels, BOLD),
                    HEADER_FILL, font=BOLD, header=True)

    def _row(self, row: Sequence[Any]) -> None:
        texts = [_text(v, spec) for v, spec in zip(row, self.specs, strict=False)]
        cells = [self._lines(t, i, FONT) for i, t in enumerate(texts)]
        height = max((len(lines) for lines in cells), default=1) * LEADING + 2 * PAD
        if self.y - height < MARGIN + 16:
            self._new_page()
        self._cells(cells, height, ZEBRA if self.rows_done % 2 else None)
        self.rows_done += 1
        for i, total in enumerate(self.sums):
            if total is not None and is_number(row[i]):
                value = row[i]
                self.sums[i] = total + value if isinstance(value, int) and isinstance(total, int) \
                    else float(total) + float(value)

    def _height(self, texts: Sequence[str], font: str) -> float:
        lines = max((len(self._lines(t, i, font)) for i, t in enumerate(texts)), default=1)
        return lines * LEADING + 2 * PAD

    def _lines(self, text: str, index: int, font: str) -> list[str]:
        room = self.widths[index] - 2 * PAD
        if self.right[index] or stringWidth(text, font, SIZE) <= room:
            return [text]  # numbers never wrap (the column was sized for them, with room to spare)
        lines = simpleSplit(text, font, SIZE, room) or [text]
        if len(lines) > MAX_LINES:
            lines = [*lines[: MAX_LINES - 1], lines[MAX_LINES - 1] + " …"]
        return lines

    def _cells(self, cells: Sequence[list[str]], height: float, fill: Any, font: str = FONT,
               header: bool = False) -> None:
        c = self.canvas
        top = self.y
        if fill is not None:
            c.setFillColor(fill)
            c.rect(MARGIN, top - height, sum(self.widths), height, stroke=0, fill=1)
            c.setFillColor(colors.black)
        # One text object per row (not one per string, as drawString makes): a third of the render time.
        text = c.beginText()
        text.setFont(font, SIZE)
        x: float = MARGIN
        for i, lines in enumerate(cells):
            width = self.widths[i]
            line_y = top - PAD - SIZE
            # Right-to-left text (already shaped) is put in visual order line by line, and right-aligned.
            rtl = False
            if any(bidi.has_rtl(line) for line in lines):
                rtl = bidi.is_rtl(" ".join(lines))
                lines = [bidi.display(line, rtl) for line in lines]
            for line in lines:
                if self.right[i] or rtl:
                    text.setTextOrigin(x + width - PAD - stringWidth(line, font, SIZE), line_y)
                else:
                    text.setTextOrigin(x + PAD, line_y)
                text.textOut(line)
                line_y -= LEADING
            x += width
        c.drawText(text)
        if header:
            c.setLineWidth(0.6)
            c.line(MARGIN, top - height, MARGIN + sum(self.widths), top - height)
        self.y = top - height

    def _end(self) -> None:
        c, data = self.canvas, self.data
        if any(total is not None for total in self.sums):
            texts = [format_value(total, spec) if total is not None else "" for total, spec in zip(
                self.sums, self.specs, strict=True)]
            if self.sums[0] is None:
                texts[0] = "Total"
            height = self._height(texts, BOLD)
            if self.y - height < MARGIN + 16:
                self._new_page()
            c.setLineWidth(0.8)
            c.line(MARGIN, self.y, MARGIN + sum(self.widths), self.y)
            self._cells([self._lines(t, i, BOLD) for i, t in enumerate(texts)], height, None, font=BOLD)
        notes = [f"{self.rows_done:,} row{'' if self.rows_done == 1 else 's'}" if self.rows_done else "No rows."]
        if data.truncated:
            notes.append(f"Cut at {self.rows_done:,} rows: the query returned more than the limit of "
                         f"{data.max_rows or self.rows_done:,} (REPORT_MAX_ROWS); narrow the parameters.")
        for note in notes:
            if self.y - 14 < MARGIN + 16:
                self._new_page()
            c.setFont(BOLD if "Cut at" in note else FONT, 9)
            c.drawString(MARGIN, self.y - 12, note)
            self.y -= 14
        self._footer()
        c.showPage()
        c.beginForm(PAGE_COUNT_FORM)
        c.setFont(FONT, 8)
        c.drawString(0, 0, str(self.page))
        c.endForm()
        c.save()
        self._report_progress()

    def _footer(self) -> None:
        c = self.canvas
        c.setFont(FONT, 8)
        c.setFillColor(colors.grey)
        c.drawString(MARGIN, MARGIN - 14, bidi.visual(self.data.title))
        label = f"page {self.page} of "
        right = self.pagesize[0] - MARGIN - 18
        c.drawRightString(right, MARGIN - 14, label)
        c.saveState()
        c.translate(right + 1, MARGIN - 14)
        c.doForm(PAGE_COUNT_FORM)
        c.restoreState()
        c.setFillColor(colors.black)

    def _report_progress(self) -> None:
        if self.data.progress is not None:
            # Render runs from 60 % (the worker's "Rendering PDF"); the total is unknown while rows stream, so
            # the percentage approaches 89 while the message says exactly how far it is.
            percent = 60 + int(29 * (1 - 1 / (1 + self.rows_done / 20_000)))
            self.data.progress(percent, f"{self.rows_done:,} rows fetched, {self.page:,} pages laid out")


def _text(value: Any, spec: Any) -> str:
    """A cell as drawn: formatted, Arabic letters joined (still logical order; lines are reordered when drawn)."""
    return bidi.shaped(format_value(value, spec))


def _fit(natural: list[float], right: list[bool], room: float) -> list[float]:
    """Column widths that fit `room`: spare room widens text columns (less wrapping); when short of room,
    text columns give way first (they wrap), then everything shrinks."""
    total = sum(natural)
    if total <= room:
        texts = [i for i, r in enumerate(right) if not r]
        if not texts:
            return natural
        spare = (room - total) / len(texts)
        return [w if r else min(max(w, MAX_TEXT_COLUMN), w + spare) for w, r in zip(natural, right, strict=True)]
    fixed = sum(w for w, r in zip(natural, right, strict=True) if r)
    flexible = total - fixed
    if flexible > 0 and fixed < room:
        scale = (room - fixed) / flexible
        widths = [w if r else max(MIN_COLUMN, w * scale) for w, r in zip(natural, right, strict=True)]
        if sum(widths) <= room + 0.5:
            return widths
    scale = room / total
    return [w * scale for w in natural]
