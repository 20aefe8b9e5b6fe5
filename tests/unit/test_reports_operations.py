"""The `operations` report: gather from a source, render a PDF."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from reportsvc.reports import get
from reportsvc.reports.operations import (
    DEFAULT_TITLE,
    TOP_FAILURES_LIMIT,
    OperationsData,
    OperationsSource,
    StaticOperationsSource,
    gather,
    percentiles,
    render,
)
from tests.pdf import read_pdf

NOW = datetime(2025, 3, 14, 10, 37, tzinfo=UTC)

def pdf_text(pdf: bytes) -> str:
    """The PDF's text as pypdf extracts it (every page)."""
    return read_pdf(pdf)[1]


def page_count(pdf: bytes) -> int:
    return read_pdf(pdf)[0]


def busy_source(hours: int = 24, failures: int = 3) -> StaticOperationsSource:
    return StaticOperationsSource(
        counts={"PENDING": 3, "RUNNING": 2, "READY": 90, "FAILED": 10, "CANCELLED": 5},
        hourly=[(NOW - timedelta(hours=i), 4 + i % 5, i % 2) for i in range(hours + 1)],
        durations=[float(i) for i in range(1, 101)],
        failures=[(f"Error {i}: " + "disk quota exceeded on volume " * 10, 100 - i) for i in range(failures)],
        queues=[
            {"queue": "reports", "waiting": 7, "delayed": 2, "held": 1, "dead": 3},
            {"queue": "emails", "waiting": 0, "delayed": 0, "held": 0, "dead": 0},
        ],
    )


# ------------------------------------------------------------------ gather


def test_static_source_satisfies_protocol() -> None:
    assert isinstance(StaticOperationsSource(), OperationsSource)


def test_gather_computes_headline_figures() -> None:
    data = gather(busy_source(), {"window_hours": 24}, now=NOW)
    assert isinstance(data, OperationsData)
    assert data.title == DEFAULT_TITLE
    assert data.generated_at == NOW and data.until == NOW
    assert data.since == NOW - timedelta(hours=24)
    assert data.total == 110
    assert (data.ready, data.failed, data.cancelled, data.in_progress) == (90, 10, 5, 5)
    assert data.success_rate == pytest.approx(0.9)
    assert dict(data.status_counts) == {"PENDING": 3, "RUNNING": 2, "READY": 90, "FAILED": 10, "CANCELLED": 5}
    assert dict(data.durations)["p50"] == pytest.approx(50.5)
    assert dict(data.durations)["max"] == 100.0
    assert [q.queue for q in data.queues] == ["reports", "emails"]
    assert data.queues[0].dead == 3


def test_gather_zero_fills_every_hour_of_the_window() -> None:
    source = StaticOperationsSource(hourly=[(NOW - timedelta(hours=3), 5, 1)])
    data = gather(source, {"window_hours": 24}, now=NOW)
    # 10:37 yesterday .. 10:37 today touches 25 clock hours.
    assert len(data.throughput) == 25
    assert data.throughput[0].hour == datetime(2025, 3, 13, 10, tzinfo=UTC)
    assert data.throughput[-1].hour == datetime(2025, 3, 14, 10, tzinfo=UTC)
    assert sum(b.completed for b in data.throughput) == 5
    assert [b for b in data.throughput if b.completed][0].hour == datetime(2025, 3, 14, 7, tzinfo=UTC)


def test_gather_uses_until_param_and_title() -> None:
    until = datetime(2025, 1, 1, 0, 0, tzinfo=UTC)
    data = gather(StaticOperationsSource(), {"window_hours": 6, "until": until.isoformat()}, "  Night shift ", now=NOW)
    assert (data.since, data.until) == (until - timedelta(hours=6), until)
    assert len(data.throughput) == 6
    assert data.title == "Night shift"
    assert data.generated_at == NOW


def test_gather_empty_window() -> None:
    data = gather(StaticOperationsSource(), None, now=NOW)
    assert data.total == 0
    assert data.success_rate is None
    assert all(v is None for _, v in data.durations)
    assert data.top_failures == () and data.queues == ()


def test_gather_cleans_and_truncates_failure_messages() -> None:
    source = StaticOperationsSource(failures=[("line one\n  line two " + "x" * 500, 2), (None, 1)])
    data = gather(source, {}, now=NOW)
    first, second = data.top_failures
    assert first[0].startswith("line one line two x")
    assert len(first[0]) <= 200 and first[0].endswith("\u2026")
    assert second == ("(no error message)", 1)


def test_gather_limits_failures() -> None:
    data = gather(busy_source(failures=TOP_FAILURES_LIMIT + 15), {}, now=NOW)
    assert len(data.top_failures) == TOP_FAILURES_LIMIT
    assert data.top_failures[0][1] == 100


def test_percentiles() -> None:
    assert percentiles([]) == {"p50": None, "p90": None, "p95": None, "p99": None, "max": None}
    p = percentiles([4.0, 1.0, 3.0, 2.0])
    assert p["p50"] == pytest.approx(2.5)
    assert p["max"] == 4.0
    assert percentiles([7.0])["p99"] == 7.0


# ------------------------------------------------------------------ render


def test_render_is_a_pdf_with_expected_content() -> None:
    data = gather(busy_source(), {"window_hours": 24}, "Ops <weekly> (EU) & co", now=NOW)
    pdf = render(data, compress=False)
    assert pdf.startswith(b"%PDF-")
    assert pdf.rstrip().endswith(b"%%EOF")
    assert page_count(pdf) >= 1
    text = pdf_text(pdf)
    # Markup-significant characters are escaped, not interpreted (ReportLab splits runs around them).
    assert "Ops <weekly> (EU) & co" in text.replace("\n", "")
    for expected in (
        "Window: 2025-03-13 10:37 UTC",
        "Generated 2025-03-14 10:37:00 UTC",
        "At a glance",
        "Reports by status",
        "Duration of completed reports",
        "Reports finished per hour",
        "Completed (ready)",
        "Queue depths",
        "Top failure reasons",
        "reportsvc \u2014 operations summary",
        "90.0%",  # success rate
        "disk quota exceeded",
        "reports",
    ):
        assert expected in text, expected
    n = page_count(pdf)
    assert f"Page 1 of {n}" in text
    assert f"Page {n} of {n}" in text
    assert "No failures in this window" not in text


def test_render_default_is_compressed_and_deterministic() -> None:
    data = gather(busy_source(), {}, now=NOW)
    pdf = render(data)
    assert pdf.startswith(b"%PDF-")
    assert pdf == render(data)
    plain = render(data, compress=False)
    assert len(pdf) < len(plain)
    assert page_count(pdf) == page_count(plain)


def test_render_empty_window() -> None:
    pdf = render(gather(StaticOperationsSource(), {}, now=NOW), compress=False)
    text = pdf_text(pdf)
    assert page_count(pdf) == 1
    assert "No failures in this window" in text
    assert "No queues reported" in text
    assert "No reports finished in this window" in text
    assert "Page 1 of 1" in text


def test_render_large_window_is_multi_page_with_page_numbers() -> None:
    data = gather(busy_source(hours=720, failures=60), {"window_hours": 720}, now=NOW)
    assert len(data.throughput) == 721
    pdf = render(data, compress=False)
    n = page_count(pdf)
    assert n >= 2
    text = pdf_text(pdf)
    for page in range(1, n + 1):
        assert f"Page {page} of {n}" in text
    assert f"Page {n + 1} of" not in text
    # A month is binned on the chart; the caption says so.
    assert "Reports finished per 6 hours" in text
    # The failures table repeats its header row on the continuation page.
    assert text.count("Error message") >= 2


def test_chart_labels_only_some_hours() -> None:
    data = gather(busy_source(hours=168), {"window_hours": 168}, now=NOW)
    text = pdf_text(render(data, compress=False))
    # Daily labels like "10 Mar" rather than 168 hour labels.
    assert "10 Mar" in text
    assert text.count(":00\n") <= 12


def test_render_via_registry() -> None:
    rt = get("operations")
    data = rt.gather(busy_source(), rt.parse_params({"window_hours": 12}), "Via registry", now=NOW)
    assert "Via registry" in pdf_text(render(data, compress=False))
    assert rt.render(data).startswith(b"%PDF")


def test_render_is_fast() -> None:
    data = gather(busy_source(), {}, now=NOW)
    render(data)  # warm fonts and module caches
    start = time.perf_counter()
    for _ in range(5):
        render(data)
    per_call = (time.perf_counter() - start) / 5
    # Tens of milliseconds on a laptop; the bound is loose so slow CI does not flake.
    assert per_call < 0.5


def test_render_runs_with_reportlab_speedups() -> None:
    """The C helpers (reportlab[accel]) are installed and shape checking is off: ~25 % of each render."""
    import subprocess
    import sys

    from reportlab import rl_config
    from reportlab.lib import rl_accel

    assert rl_accel.fp_str.__module__ == "_rl_accel"
    assert rl_config.shapeChecking == 0
    # In a fresh interpreter (this one may have imported ReportLab's graphics before reportsvc.reports):
    # with checking on at import, Shape would validate every attribute set through its own __setattr__.
    probe = "import reportsvc.reports; from reportlab.graphics.shapes import Shape; print('__setattr__' in vars(Shape))"
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True).stdout.strip() == "False"
