"""The `operations` PDF's look: palette, fonts, page geometry, text and table styles, number formats."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Table, TableStyle

from reportsvc.reports import fonts
from reportsvc.reports.operations_data import as_utc

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

FONT, FONT_BOLD, FONT_ITALIC = fonts.REGULAR, fonts.BOLD, fonts.ITALIC

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


def data_table(rows: list[list[Any]], widths: list[float], numeric_from: int, extra: Sequence[Any] = ()) -> Table:
    """A data table: shaded header row, zebra rows, columns from `numeric_from` right-aligned."""
    style = [*_BASE_TABLE, ("ALIGN", (numeric_from, 0), (-1, -1), "RIGHT"), *extra]
    return Table(rows, colWidths=widths, repeatRows=1, style=TableStyle(style), hAlign="LEFT")


def fmt_int(n: int) -> str:
    """A count with thousands separators."""
    return f"{n:,}"


def fmt_pct(value: float | None) -> str:
    """A fraction as a percentage with one decimal; a dash when there is none."""
    return "\u2014" if value is None else f"{value * 100:.1f}%"


def fmt_duration(seconds: float | None) -> str:
    """A duration in the largest units that keep it short (s, min s, h min); a dash when there is none."""
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


def fmt_ts(value: datetime) -> str:
    """A timestamp to the minute, in UTC."""
    return as_utc(value).strftime("%Y-%m-%d %H:%M UTC")


def window_label(hours: int) -> str:
    """The window in words: "last N days" for whole days from two on, else "last N hours"."""
    if hours % 24 == 0 and hours >= 48:
        return f"last {hours // 24} days"
    return f"last {hours} hour" + ("" if hours == 1 else "s")
