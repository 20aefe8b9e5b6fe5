"""Console views through Flask's test client: full pages vs HTMX fragments, per-state content, Vary."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest

HX = {"HX-Request": "true"}


def _create(app, **fields: Any):  # type: ignore[no-untyped-def]
    """A PENDING report row (no message sent), straight through the lifecycle."""
    from reportsvc.state import lifecycle

    with app.app_context():
        report = lifecycle.create(report_type="operations", title=fields.pop("title", "Weekly ops"),
                                  params={}, notify_email=None, requested_by="tester")
        return report.id


def _set_status(app, report_id: uuid.UUID, status: str, **values: Any) -> None:
    """Force a row into a state for rendering tests (bypasses the lifecycle on purpose: fixtures only)."""
    from sqlalchemy import update

    from reportsvc.extensions import db
    from reportsvc.state.models import ReportRequest

    with app.app_context():
        db.session.execute(update(ReportRequest).where(ReportRequest.id == report_id).values(status=status, **values))
        db.session.commit()


@pytest.fixture(autouse=True)
def _fresh_caches(app):  # type: ignore[no-untyped-def]
    from reportsvc.state import queries
    from reportsvc.web import console

    queries.clear_status_counts_cache()
    console.reset_health_cache()
    yield


def test_root_redirects_to_console(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/")
    assert response.status_code in (301, 302, 308)
    assert response.headers["Location"].endswith("/console/")


def test_empty_list_page_explains_what_to_do(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/console/")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "HX-Request" in response.headers.get("Vary", "")
    assert "<!doctype html>" in html.lower()
    assert "No reports yet" in html
    assert "Generate report" in html
    # layout: nav, environment, footer health and version, vendored htmx (no CDN), no inline script
    for label in ("Reports", "Queues", "Workers", "Audit", "Dashboard"):
        assert f">{label}</a>" in html
    assert "Database: up" in html and "Redis: up" in html and "Workers alive:" in html
    assert "/static/vendor/htmx.min.js" in html and "unpkg" not in html and "cdn" not in html.lower()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline <script> would break the CSP of issue 6"


def test_list_shows_each_state_with_badge_and_actions(app, client) -> None:  # type: ignore[no-untyped-def]
    ids = {s: _create(app, title=f"{s.title()} one") for s in ("PENDING", "RUNNING", "READY", "FAILED", "CANCELLED")}
    _set_status(app, ids["RUNNING"], "RUNNING", progress=40, progress_message="Rendering charts", attempts=1)
    _set_status(app, ids["READY"], "READY", progress=100, file_path="x.pdf")
    _set_status(app, ids["FAILED"], "FAILED", error_message="boom", attempts=4)
    _set_status(app, ids["CANCELLED"], "CANCELLED")
    html = client.get("/console/").get_data(as_text=True)
    rows = {s: _row_html(html, rid) for s, rid in ids.items()}
    for status, row in rows.items():
        assert f'data-status="{status}"' in row
        assert f'class="badge badge--{status.lower()}"' in row
    # live rows poll, finished ones don't
    assert "data-live" in rows["PENDING"] and "data-live" in rows["RUNNING"]
    for status in ("READY", "FAILED", "CANCELLED"):
        assert "data-live" not in rows[status]
    # actions per state
    assert "/cancel" in rows["PENDING"] and "hx-confirm" in rows["PENDING"]
    assert "/download" in rows["READY"] and "/cancel" not in rows["READY"]
    assert "/retry" in rows["FAILED"]
    assert "/cancel" in rows["RUNNING"] and "/retry" not in rows["RUNNING"]  # cancel asks the worker to stop
    assert "40% · Rendering charts" in rows["RUNNING"]
    # counts per status as tabs
    assert re.search(r'id="count-ALL">5<', html)
    assert re.search(r'id="count-FAILED">1<', html)


def _row_html(html: str, report_id: uuid.UUID) -> str:
    match = re.search(rf'<tr id="row-{report_id}".*?</tr>', html, re.S)
    assert match, f"row {report_id} not on the page"
    return match.group(0)


def test_htmx_list_request_gets_fragment(app, client) -> None:  # type: ignore[no-untyped-def]
    _create(app, title="Alpha report")
    plain = client.get("/console/?q=alpha")
    frag = client.get("/console/?q=alpha", headers=HX)
    assert plain.status_code == frag.status_code == 200
    assert "HX-Request" in frag.headers["Vary"]
    body = frag.get_data(as_text=True)
    assert "<html" not in body and body.lstrip().startswith("<section id=\"report-list\"")
    assert "Alpha report" in body
    assert 'id="status-input"' in body and 'hx-swap-oob="true"' in body
    assert "<html" in plain.get_data(as_text=True).lower()


def test_search_by_title_and_id_prefix_and_status_filter(app, client) -> None:  # type: ignore[no-untyped-def]
    a = _create(app, title="Quarterly finance")
    b = _create(app, title="Weekly ops")
    _set_status(app, b, "FAILED")
    html = client.get("/console/?q=quarterly").get_data(as_text=True)
    assert "Quarterly finance" in html and "Weekly ops" not in html
    html = client.get(f"/console/?q={str(b)[:6]}").get_data(as_text=True)
    assert f"row-{b}" in html and f"row-{a}" not in html
    html = client.get("/console/?status=FAILED").get_data(as_text=True)
    assert f"row-{b}" in html and f"row-{a}" not in html
    assert 'aria-current="page"' in html and 'data-tab="FAILED"' in html
    html = client.get("/console/?status=READY&q=weekly").get_data(as_text=True)
    assert "No reports match" in html


def test_bad_filter_is_a_styled_400(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/console/?status=NOPE")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "Unknown status" in html and "site-header" in html
    response = client.get("/console/?older=garbage!!")
    assert response.status_code == 400


def test_keyset_pages_older_and_newer(app, client) -> None:  # type: ignore[no-untyped-def]
    from reportsvc.web.console_reports import LIST_LIMIT

    ids = [_create(app, title=f"R{i:03d}") for i in range(LIST_LIMIT + 5)]
    first = client.get("/console/").get_data(as_text=True)
    assert "R029" in first and "R004" not in first  # newest first
    older = re.search(r'href="(/console/\?older=[^"]+)"', first)
    assert older, "an 'Older' link on the first page"
    second = client.get(older.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert "R004" in second and "R000" in second and "R029" not in second
    newer = re.search(r'href="(/console/\?newer=[^"]+)"', second)
    assert newer
    back = client.get(newer.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert "R029" in back and "R005" in back
    assert len(ids) == LIST_LIMIT + 5


def test_live_fragment_returns_oob_rows_and_counts(app, client) -> None:  # type: ignore[no-untyped-def]
    running = _create(app)
    done = _create(app)
    _set_status(app, running, "RUNNING", progress=55, progress_message="Drawing")
    _set_status(app, done, "READY", progress=100)
    response = client.get(f"/console/live?ids={running},{done},not-a-uuid", headers=HX)
    assert response.status_code == 200
    assert "HX-Request" in response.headers["Vary"]
    html = response.get_data(as_text=True)
    run_row, done_row = _row_html(html, running), _row_html(html, done)
    assert 'hx-swap-oob="true"' in run_row and "data-live" in run_row and "55% · Drawing" in run_row
    assert "data-live" not in done_row  # finished: polling stops
    assert 'id="count-RUNNING" hx-swap-oob="true"' in html
    assert "<html" not in html


def test_live_fragment_is_one_query_for_the_rows(app, client) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import event

    from reportsvc.extensions import db

    ids = [_create(app) for _ in range(20)]
    client.get("/console/counts")  # warm the counts cache: the poll itself then runs only the rows query
    statements: list[str] = []
    with app.app_context():
        engine = db.engine

    def record(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        client.get("/console/live?ids=" + ",".join(str(i) for i in ids), headers=HX)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    row_queries = [s for s in statements if "FROM report_requests" in s]
    assert len(row_queries) == 1, statements


def test_counts_fragment(app, client) -> None:  # type: ignore[no-untyped-def]
    _create(app)
    response = client.get("/console/counts", headers=HX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "HX-Request" in response.headers["Vary"]
    assert re.search(r'id="count-PENDING" hx-swap-oob="true">1<', html)


def test_detail_page_and_fragment(app, client) -> None:  # type: ignore[no-untyped-def]
    rid = _create(app, title="Detail me")
    page = client.get(f"/console/reports/{rid}")
    assert page.status_code == 200 and "HX-Request" in page.headers["Vary"]
    html = page.get_data(as_text=True)
    assert "Detail me" in html and "Timeline" in html and "Created" in html
    assert f'data-poll="/console/reports/{rid}"' in html  # PENDING polls
    assert "Queue message" in html and 'data-place="no_message"' in html
    assert f"/console/reports/{rid}/cancel" in html
    frag = client.get(f"/console/reports/{rid}", headers=HX).get_data(as_text=True)
    assert frag.lstrip().startswith('<div id="report-detail"') and "<html" not in frag
    _set_status(app, rid, "READY", progress=100)
    frag = client.get(f"/console/reports/{rid}", headers=HX).get_data(as_text=True)
    assert "data-poll" not in frag.split(">", 1)[0]  # finished: stops polling
    assert f"/console/reports/{rid}/download" in frag


def test_detail_shows_attempt_errors_and_traceback(app, client) -> None:  # type: ignore[no-untyped-def]
    from reportsvc.state import lifecycle

    rid = _create(app)
    with app.app_context():
        lifecycle.note(rid, "attempt_failed", "attempt 1 failed",
                       {"error": "ValueError: nope", "traceback": "Traceback (most recent call last):\n  boom",
                        "retry_in_ms": 2000})
    html = client.get(f"/console/reports/{rid}").get_data(as_text=True)
    assert "Attempt failed" in html and "ValueError: nope" in html
    assert "<summary>Traceback</summary>" in html and "most recent call last" in html
    assert "Next try in 2.0 s" in html


def test_unknown_and_malformed_report_are_styled_404(client) -> None:  # type: ignore[no-untyped-def]
    for path in (f"/console/reports/{uuid.uuid4()}", "/console/reports/not-a-uuid", "/console/no-such-page"):
        response = client.get(path)
        assert response.status_code == 404, path
        html = response.get_data(as_text=True)
        assert "site-header" in html and "404" in html, path
    # the API keeps its JSON errors
    api = client.get("/no-such-api-path")
    assert api.status_code == 404 and api.is_json and api.get_json()["error"]["code"] == "not_found"


def test_console_500_page_is_styled(app) -> None:  # type: ignore[no-untyped-def]
    from flask import render_template

    with app.test_request_context("/console/"):
        html = render_template("console/error.html", status=500, message="Something went wrong.")
    assert "Something went wrong" in html and "site-header" in html and "has been logged" in html
