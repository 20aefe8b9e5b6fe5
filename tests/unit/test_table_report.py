"""The table report's PDF, rendered without a database and read back with pypdf."""

from __future__ import annotations

import io
import re
from datetime import date, timedelta

from pypdf import PdfReader

from reportsvc.reports.datasets import Chart, Column
from reportsvc.reports.table_data import TableData
from reportsvc.reports.table_format import format_value
from reportsvc.reports.table_pdf import render


class CutRows:
    """Rows that say the row cap cut them, as the read-only source's result does."""

    def __init__(self, rows: list[tuple]) -> None:
        self.rows, self.truncated = rows, False

    def __iter__(self):
        yield from self.rows
        self.truncated = True


def _pages(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf), strict=True).pages]


def _orders(n: int) -> TableData:
    rows = ((date(2026, 1, 1) + timedelta(days=i % 365), f"customer {i}", i, i * 1.5) for i in range(1, n + 1))
    return TableData(title="Orders", columns=["day", "customer", "orders", "revenue"], rows=rows,
                     params=[("From", "2026-01-01")],
                     column_specs={"revenue": Column("revenue", label="Revenue", format="currency", currency="EUR")},
                     totals=("orders", "revenue"))


def test_ten_thousand_rows_fill_pages_with_the_header_on_each_and_first_and_last_rows_present() -> None:
    pages = _pages(render(_orders(10_000)))
    assert len(pages) > 100
    for number, text in enumerate(pages, 1):
        assert "day" in text and "customer" in text and "Revenue" in text, number
        assert re.search(rf"page {number} of\s*{len(pages)}", text), text[-80:]
    assert "2026-01-02 customer 1 1 1.50 EUR" in pages[0] and "Parameters: From: 2026-01-01" in pages[0]
    assert "customer 10000 10,000 15,000.00 EUR" in pages[-1]
    assert "Total" in pages[-1] and "50,005,000" in pages[-1] and "75,007,500.00 EUR" in pages[-1]
    assert "10,000 rows" in pages[-1]


def test_a_cut_result_says_so_on_the_last_page() -> None:
    data = _orders(0)
    data.rows = CutRows([(date(2026, 1, 1), "a", 1, 1.0)] * 50)
    data.max_rows = 50
    last = _pages(render(data))[-1]
    assert "Cut at 50 rows" in last and "REPORT_MAX_ROWS" in last


def test_no_rows_renders_one_page_saying_so() -> None:
    pages = _pages(render(_orders(0)))
    assert len(pages) == 1 and "No rows." in pages[0]


def test_many_columns_turn_the_page_to_landscape() -> None:
    columns = [f"column_number_{i}" for i in range(12)]
    data = TableData(title="Wide", columns=columns, rows=[tuple(f"value {i}" for i in range(12))] * 3)
    page = PdfReader(io.BytesIO(render(data))).pages[0]
    assert float(page.mediabox.width) > float(page.mediabox.height)
    narrow = PdfReader(io.BytesIO(render(_orders(3)))).pages[0]
    assert float(narrow.mediabox.width) < float(narrow.mediabox.height)


def test_long_text_wraps_inside_its_column() -> None:
    long = "word " * 120
    data = TableData(title="Notes", columns=["id", "note"], rows=[(1, long.strip()), (2, "short")])
    text = _pages(render(data))[0]
    lines = [line for line in text.splitlines() if line.startswith("word")]
    assert len(lines) >= 2  # wrapped onto several lines, and cut with an ellipsis beyond four
    assert "…" in text and "short" in text


def test_a_chart_is_drawn_above_the_table() -> None:
    data = _orders(40)
    data.chart = Chart(type="line", x="day", y=("orders",))
    with_chart = render(data)
    without = render(_orders(40))
    assert len(with_chart) > len(without)
    assert "orders" in _pages(with_chart)[0]


def test_progress_reports_rows_and_pages() -> None:
    seen: list[tuple[int, str]] = []
    data = _orders(3000)
    data.progress = lambda percent, message: seen.append((percent, message))
    render(data)
    assert seen and seen[-1][1].startswith("3,000 rows fetched")
    assert all(60 <= p <= 89 for p, _ in seen) and [p for p, _ in seen] == sorted(p for p, _ in seen)


def test_values_are_formatted_by_column_format() -> None:
    assert format_value(1234567, None) == "1,234,567"
    assert format_value(0.256, Column("x", format="percent")) == "25.6 %"
    assert format_value(12.5, Column("x", format="currency", currency="USD")) == "12.50 USD"
    assert format_value(3.14159, Column("x", format="number", decimals=3)) == "3.142"
    assert format_value(None, None) == ""
