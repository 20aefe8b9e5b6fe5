"""The console dashboard renders with zero, a few and many rows, and its queries stay on indexes."""

from __future__ import annotations

import re
import time

from sqlalchemy import text

from reportsvc.web import dashboard


def _get(client, path="/console/dashboard", **headers):
    dashboard.reset_cache()
    response = client.get(path, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    return response.get_data(as_text=True)


def test_empty_dashboard_renders(client):
    page = _get(client)
    assert "<title>Dashboard" in page
    assert page.count("<svg class=\"chart\"") >= 4  # per minute, per hour, one per queue
    assert 'hx-trigger="every 5s, sse:queue"' in page  # polls, and refreshes on a pushed queue event
    assert "Failure rate, last hour" in page and "–" in page


def test_panel_fragment_for_htmx(client):
    fragment = _get(client, "/console/dashboard/panel")
    assert fragment.lstrip().startswith('<div id="dashboard-panel"') and "<html" not in fragment
    assert "<html" not in _get(client, **{"HX-Request": "true"})


def test_a_few_reports_show_up(app, client, worker):
    from tests.conftest import wait_status

    ids = [client.post("/reports").get_json()["id"] for _ in range(3)]
    for rid in ids:
        assert wait_status(client, rid, {"READY", "FAILED"})["status"] == "READY"
    page = _get(client)
    stats = dict(re.findall(r'stat__label">([^<]+)</div><div class="stat__value">([^<]+)<', page))
    assert stats["Created, last hour"] == "3"
    assert stats["Finished, last hour"] == "3"
    assert stats["Failure rate, last hour"].startswith("0.0")
    assert stats["Run time p50"].endswith(" s")
    assert "<polyline" in page


SEED = text("""
INSERT INTO report_requests (id, status, progress, report_type, created_at, updated_at, started_at, finished_at)
SELECT gen_random_uuid(),
       CASE WHEN g % 20 = 0 THEN 'FAILED' ELSE 'READY' END, 100, 'operations',
       now() - make_interval(secs => g * :spread), now(),
       now() - make_interval(secs => g * :spread) + interval '1 second',
       now() - make_interval(secs => g * :spread) + interval '2 seconds'
FROM generate_series(1, :n) AS g
""")


def test_many_rows_render_fast_and_use_indexes(app, client, db_session):
    n = 300_000
    db_session.execute(SEED, {"n": n, "spread": 30 * 86400 / n})  # 30 days of history
    db_session.commit()
    db_session.execute(text("ANALYZE report_requests"))
    db_session.commit()

    started = time.perf_counter()
    page = _get(client)
    elapsed = time.perf_counter() - started
    stats = dict(re.findall(r'stat__label">([^<]+)</div><div class="stat__value">([^<]+)<', page))
    per_hour = n / (30 * 24)
    assert abs(int(stats["Created, last hour"].replace(",", "")) - per_hour) <= per_hour * 0.05 + 2
    assert 4.0 <= float(stats["Failure rate, last hour"].rstrip(" %")) <= 6.0  # every 20th row failed
    assert elapsed < 3.0, elapsed

    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    for name, sql in dashboard.QUERIES.items():
        params = {"since": now - timedelta(hours=24), "until": now}
        plan = "\n".join(r[0] for r in db_session.execute(text("EXPLAIN " + str(sql)), params))
        db_session.rollback()
        assert "Seq Scan on report_requests" not in plan, (name, plan)
        assert "Index" in plan, (name, plan)
