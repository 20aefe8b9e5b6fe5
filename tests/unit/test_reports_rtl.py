"""Right-to-left text in the PDFs: Arabic letters joined, Hebrew and Arabic in visual order, right-aligned,
line by line when a title wraps. Read back as drawn (tests/pdf.drawn_runs: the characters each text operator
paints, left to right), since pypdf's and poppler's extractors turn right-to-left runs around themselves."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest

from reportsvc.reports import fonts
from reportsvc.reports.operations import StaticOperationsSource, gather, render
from reportsvc.reports.table_data import TableData
from reportsvc.reports.table_pdf import render as render_table
from tests.pdf import drawn_runs

NOW = datetime(2025, 3, 14, 10, 37, tzinfo=UTC)
HEBREW = "שלום עולם"
#: Drawn left to right, the last word first, each word's letters reversed.
HEBREW_DRAWN = "םלוע םולש"
ARABIC = "سلام عليكم"
#: Joined forms (ﺳ initial sin, ﻼ lam-alef ligature, ﻡ isolated mim; ﻋ ﻠ ﻴ ﻜ ﻢ), drawn right to left.
ARABIC_DRAWN = "\ufee2\ufedc\ufef4\ufee0\ufecb \ufee1\ufefc\ufeb3"

pytestmark = pytest.mark.skipif(not fonts.EMBEDDED and os.environ.get("CI") != "true",
                                reason="fonts-dejavu-core is not installed here")


def _operations(title: str) -> bytes:
    return render(gather(StaticOperationsSource(), {"window_hours": 3}, title, now=NOW), compress=False)


def _table(title: str, rows: list[tuple[str, int]]) -> bytes:
    return render_table(TableData(title=title, columns=["name", "n"], rows=rows, generated_at=NOW))


def test_an_arabic_title_prints_joined_in_visual_order_and_right_aligned():
    runs = drawn_runs(_operations(ARABIC))
    [(title, x)] = [(t, x) for t, x in runs if "\ufeb3" in t]
    assert title.strip() == ARABIC_DRAWN
    assert not any("\u0633" in t for t, _ in runs)  # no unjoined letter (isolated sin, U+0633) anywhere
    assert x > 300, x  # ends at the right margin of an A4 page (595 pt), not starting at the left one


def test_a_hebrew_title_and_cells_print_in_visual_order_in_the_table_report():
    runs = drawn_runs(_table(HEBREW, [(HEBREW, 1), (ARABIC, 2), ("Report 12 שלום", 3), ("plain", 4)]))
    texts = [t for t, _ in runs]
    assert not any(HEBREW in t or ARABIC in t for t in texts), texts  # nothing drawn in typed (logical) order
    assert texts.count(HEBREW_DRAWN) == 3, texts  # title, its cell, the footer
    assert ARABIC_DRAWN in texts
    # A left-to-right sentence keeps its order; only the Hebrew word in it turns (and the number stays put).
    assert "Report 12 םולש" in texts and "plain" in texts
    assert "Generated at 2025-03-14 10:37:00 UTC" in texts  # the operations report's form, not ISO
    title_x, cell_x = [x for t, x in runs if t == HEBREW_DRAWN][:2]
    plain_x = next(x for t, x in runs if t == "plain")
    assert title_x > 300, title_x  # the right-to-left title is drawn from the right margin of the page
    assert cell_x > plain_x + 50, (cell_x, plain_x)  # and a right-to-left cell from its column's right edge


def test_a_long_right_to_left_title_keeps_its_line_order_when_it_wraps():
    words = ["אחד", "שתיים", "שלוש", "ארבע", "חמש", "שש", "שבע", "שמונה", "תשע", "עשר"] * 3
    pdf = _operations(" ".join(words))
    lines = [t.strip() for t, _ in drawn_runs(pdf) if any("\u05d0" <= ch <= "\u05ea" for ch in t)]
    assert len(lines) >= 2, lines
    # The first line drawn holds the first words (its rightmost word is the first), the last the last ones.
    assert lines[0].split()[-1] == "דחא" and lines[-1].split()[0] == "רשע", lines
    assert [w[::-1] for line in lines for w in reversed(line.split())] == words
