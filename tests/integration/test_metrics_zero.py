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
