"""The plugin's own test: render without a database, gather against a fake source."""

from __future__ import annotations

import io
from datetime import date

from pypdf import PdfReader
from reportsvc_example_plugin import STATUS_COUNTS, StatusCounts, StatusCountsParams, gather, render


class FakeSource:
    """Stands in for reportsvc's read-only source: records the query, returns fixed rows."""

    def __init__(self, rows: list[tuple[str, int]]) -> None:
        self.rows = rows
        self.calls: list[tuple[str, dict]] = []

    def query(self, sql: str, params: dict) -> list[tuple[str, int]]:
        self.calls.append((sql, params))
        return self.rows


def test_render_draws_a_pdf_without_a_database() -> None:
    pdf = render(StatusCounts(since=date(2026, 1, 1), until=date(2026, 1, 8), counts=[("READY", 12)]))
    reader = PdfReader(io.BytesIO(pdf))
    text = reader.pages[0].extract_text()
    assert len(reader.pages) == 1
    assert "Reports per status" in text and "READY" in text and "12" in text


def test_gather_binds_the_window_as_parameters() -> None:
    source = FakeSource([("FAILED", 2), ("READY", 5)])
    data = gather(source, StatusCountsParams(since=date(2026, 1, 1), days=3))
    assert data.counts == [("FAILED", 2), ("READY", 5)]
    assert source.calls[0][1] == {"since": date(2026, 1, 1), "until": date(2026, 1, 4)}


def test_the_type_declares_name_and_version() -> None:
    assert STATUS_COUNTS.name == "status_counts"
    assert STATUS_COUNTS.version == "1.0.0"
