"""Read a PDF the way a viewer does (pypdf): its page count and its text, for tests that check a report."""

from __future__ import annotations

import io

from pypdf import PdfReader


def read_pdf(data: bytes) -> tuple[int, str]:
    """(page count, text of every page joined by newlines); raises if `data` is not a parseable PDF."""
    reader = PdfReader(io.BytesIO(data), strict=True)
    return len(reader.pages), "\n".join(page.extract_text() for page in reader.pages)
