"""Counters never incremented are still scraped, at 0 (per report type when typed), so rate() alerts work
from the first scrape."""

from __future__ import annotations

from reportsvc import reports
from reportsvc.metrics import collector


def test_counters_have_a_zero_sample_before_their_first_event(app, client):
    collector._gauge_cache.at = 0.0
    text = client.get("/metrics").get_data(as_text=True)
    for rt in reports.names():
        assert f'reportsvc_reports_failed_total{{report_type="{rt}"}} 0.0' in text, rt
        assert f'reportsvc_reports_created_total{{report_type="{rt}"}} 0.0' in text, rt


def test_the_rows_estimate_is_not_zero_before_the_first_analyze(app, client):
    from sqlalchemy import text

    from reportsvc.extensions import db
    from tests.conftest import wait_for

    with app.app_context():
        db.session.execute(text("INSERT INTO report_requests (id, status, progress) "
                                "SELECT gen_random_uuid(), 'READY', 100 FROM generate_series(1, 40)"))
        db.session.commit()

    def estimate() -> float:
        collector._gauge_cache.at = 0.0
        for line in client.get("/metrics").get_data(as_text=True).splitlines():
            if line.startswith("reportsvc_reports_rows_estimate "):
                return float(line.split()[1])
        return -1.0

    assert wait_for(lambda: estimate() >= 40, timeout=10)
    collector._gauge_cache.at = 0.0
