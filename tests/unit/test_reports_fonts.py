"""The PDFs embed DejaVu Sans, so text a user types outside Latin-1 prints as itself, not as boxes."""

from __future__ import annotations

import io
import os
from datetime import UTC, datetime

import pytest
from pypdf import PdfReader

from reportsvc.reports import fonts
from reportsvc.reports.operations import StaticOperationsSource, gather, render

TITLE = "Ωmega отчёт עברית العربية ✓ → zero\u200bwidth"
NOW = datetime(2025, 3, 14, 10, 37, tzinfo=UTC)


def _pdf(title: str) -> bytes:
    return render(gather(StaticOperationsSource(), {"window_hours": 3}, title, now=NOW), compress=False)


def test_dejavu_sans_is_embedded_when_installed():
    if not fonts.EMBEDDED and os.environ.get("CI") != "true":
        pytest.skip("fonts-dejavu-core is not installed here")
    assert fonts.EMBEDDED and fonts.REGULAR == "DejaVuSans"
    reader = PdfReader(io.BytesIO(_pdf(TITLE)))
    embedded = set()
    for page in reader.pages:
        for font in (page["/Resources"].get("/Font") or {}).values():
            font = font.get_object()
            descendants = font.get("/DescendantFonts") or [font]
            for d in descendants:
                desc = d.get_object().get("/FontDescriptor")
                if desc is not None and any(k in desc.get_object() for k in ("/FontFile2", "/FontFile")):
                    embedded.add(str(font["/BaseFont"]))
    assert any("DejaVuSans" in name for name in embedded), embedded


def test_every_character_of_a_non_latin_title_has_a_glyph():
    if not fonts.EMBEDDED and os.environ.get("CI") != "true":
        pytest.skip("fonts-dejavu-core is not installed here")
    from reportlab.pdfbase import pdfmetrics

    face = pdfmetrics.getFont(fonts.BOLD).face
    missing = [ch for ch in TITLE.replace("\u200b", "") if ord(ch) not in face.charToGlyph]
    assert missing == []
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(_pdf(TITLE))).pages)
    for word in ("Ωmega", "отчёт", "✓"):
        assert word in text, word
