"""Each report's own log: lines captured per attempt with tracebacks, the cap, paging, filters, viewers."""

from __future__ import annotations

import logging

from tests.conftest import wait_for, wait_status


def _lines(client, report_id, **args):  # type: ignore[no-untyped-def]
    response = client.get(f"/reports/{report_id}/logs", query_string=args)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def _settled(client, report_id, marker):  # type: ignore[no-untyped-def]
    """The lines once the one containing `marker` is written (the attempt's last lines land just after its
    status changed: they are written when the attempt ends)."""
    return wait_for(lambda: (items := _lines(client, report_id)["items"])
                    and any(marker in line["message"] for line in items) and items, timeout=5)


def test_failed_attempts_show_their_lines_and_traceback_per_attempt(app, client, worker, settings):
    settings(retry_delays_ms=(100, 100, 100), report_max_retries=1)
    report_id = client.post("/reports", json={"params": {"simulate": {"fail_times": 5}}}).get_json()["id"]
    wait_status(client, report_id, {"FAILED"}, timeout=20)
    lines = _settled(client, report_id, "attempt 2 failed")
    assert {line["attempt"] for line in lines} == {1, 2}
    for attempt in (1, 2):
        mine = [line for line in lines if line["attempt"] == attempt]
        assert any(f"active (attempt {attempt}" in line["message"] for line in mine)
        failed = [line for line in mine
                  if line["level"] == "WARNING" and "failed: simulated failure" in line["message"]]
        assert len(failed) == 1 and failed[0]["worker"] and failed[0]["time"]
        assert failed[0]["traceback"].startswith("(omitted")  # the API carries no stack traces
    with app.app_context():  # ...but the report's log holds it, for the console's operators
        from reportsvc.state import report_logs

        stored = report_logs.page(__import__("uuid").UUID(report_id), after=None, limit=100, min_level="WARNING")
        assert all("SimulatedFailure" in line.traceback for line in stored.items if "attempt" in line.message
                   and line.traceback)
        assert sum(1 for line in stored.items if line.traceback) == 2
    only_second = _lines(client, report_id, attempt=2, level="warning")["items"]
    assert only_second and all(line["attempt"] == 2 and line["level"] in ("WARNING", "ERROR") for line in only_second)


def test_the_cap_holds_and_says_how_many_lines_were_dropped(client, worker, settings):
    settings(report_log_lines=3)
    report_id = client.post("/reports", json={}).get_json()["id"]
    wait_status(client, report_id, {"READY"}, timeout=15)
    lines = wait_for(lambda: (items := _lines(client, report_id)["items"]) and "dropped" in items[-1]["message"]
                     and items, timeout=5)
    assert len(lines) == 4
    assert lines[-1]["level"] == "WARNING" and lines[-1]["message"].endswith("lines dropped (REPORT_LOG_LINES=3)")
    dropped = int(lines[-1]["message"].split()[0])
    assert dropped >= 3


def test_pages_follow_the_cursor_and_bad_filters_are_400(client, worker):
    report_id = client.post("/reports", json={}).get_json()["id"]
    wait_status(client, report_id, {"READY"}, timeout=15)
    everything = _settled(client, report_id, "completed in")
    assert len(everything) >= 5
    first = _lines(client, report_id, limit=2)
    second = _lines(client, report_id, limit=2, cursor=first["next_cursor"])
    assert [line["id"] for line in first["items"] + second["items"]] == [line["id"] for line in everything[:4]]
    for args, field in (({"limit": "0"}, "limit"), ({"level": "LOUD"}, "level"), ({"attempt": "x"}, "attempt")):
        bad = client.get(f"/reports/{report_id}/logs", query_string=args)
        assert bad.status_code == 400 and bad.get_json()["error"]["details"][0]["field"] == field
    bad_cursor = client.get(f"/reports/{report_id}/logs", query_string={"cursor": "forged"})
    assert bad_cursor.status_code == 400 and bad_cursor.get_json()["error"]["code"] == "invalid_cursor"
    assert client.get("/reports/not-a-uuid/logs").status_code == 400
    assert client.get("/reports/00000000-0000-0000-0000-000000000000/logs").status_code == 404


def test_report_types_own_log_lines_are_kept(client, worker, monkeypatch):
    import dataclasses

    from reportsvc import reports
    from reportsvc.reports import registry

    report_type = reports.get("operations")
    original = report_type.render

    def render(data):  # type: ignore[no-untyped-def]
        logging.getLogger("acme.reports.operations").info("rendering %d sections", 4)
        return original(data)

    # A report type that logs from its render, as a plugin's would (its own logger name). Its INFO lines exist
    # when the process logs at INFO, as `dramatiq` workers do by default (pytest's root logger is at WARNING).
    monkeypatch.setitem(registry._REGISTRY, "operations", dataclasses.replace(report_type, render=render))
    monkeypatch.setattr(logging.getLogger("acme"), "level", logging.INFO)
    report_id = client.post("/reports", json={}).get_json()["id"]
    wait_status(client, report_id, {"READY"}, timeout=15)
    lines = _settled(client, report_id, "completed in")
    assert any(line["logger"] == "acme.reports.operations" and line["message"] == "rendering 4 sections"
               for line in lines)


def test_console_logs_tab_shows_tracebacks_to_operators_not_viewers(client, viewer_client, worker, settings):
    settings(retry_delays_ms=(100,), report_max_retries=0)
    report_id = client.post("/reports", json={"params": {"simulate": {"fail_times": 1}}}).get_json()["id"]
    wait_status(client, report_id, {"FAILED"}, timeout=15)
    _settled(client, report_id, "attempt 1 failed")
    page = client.get(f"/console/reports/{report_id}/logs").get_data(as_text=True)
    assert 'id="tab-logs"' in page and "failed: simulated failure" in page and "<summary>Traceback</summary>" in page
    assert "SimulatedFailure" in page
    seen = viewer_client.get(f"/console/reports/{report_id}/logs").get_data(as_text=True)
    assert "failed: simulated failure" in seen and "SimulatedFailure" not in seen and "operators only" in seen
    filtered = client.get(f"/console/reports/{report_id}/logs?level=ERROR").get_data(as_text=True)
    assert "failed: simulated failure" not in filtered
    assert client.get(f"/console/reports/{report_id}/logs?level=LOUD").status_code == 400
    detail = client.get(f"/console/reports/{report_id}").get_data(as_text=True)
    assert f'/console/reports/{report_id}/logs' in detail


def test_logs_tab_is_live_while_running(client, worker):
    # A 10 s render: the lines must be seen while it still runs, and on a loaded machine the wait for RUNNING
    # and then for the first beat's lines can take seconds (with 4 s, the report could be READY by then).
    report_id = client.post("/reports", json={"params": {"simulate": {"sleep_seconds": 10}}}).get_json()["id"]
    wait_for(lambda: client.get(f"/reports/{report_id}/status").get_json()["status"] == "RUNNING", timeout=10)
    # The heartbeat (0.5 s in tests) writes the lines so far while the report still runs.
    lines = wait_for(lambda: _lines(client, report_id)["items"], timeout=5)
    assert client.get(f"/reports/{report_id}/status").get_json()["status"] == "RUNNING"
    assert any("[Phase 1/4]" in line["message"] for line in lines)
    page = client.get(f"/console/reports/{report_id}/logs").get_data(as_text=True)
    assert 'id="report-logs"' in page and "data-poll=" in page
    wait_status(client, report_id, {"READY"}, timeout=30)
    done = client.get(f"/console/reports/{report_id}/logs").get_data(as_text=True)
    assert "data-poll=" not in done.split('id="report-logs"')[1].split(">")[0]


def test_lines_are_captured_after_something_replaced_the_root_handlers(client, worker):
    """An in-process `alembic upgrade` (fileConfig) replaces the root logger's handlers: capture must survive."""
    from reportsvc.worker import report_log

    first = client.post("/reports", json={}).get_json()["id"]
    wait_status(client, first, {"READY"}, timeout=15)
    _settled(client, first, "READY")
    root = logging.getLogger()
    root.handlers = [h for h in root.handlers if not isinstance(h, report_log._Handler)]  # as fileConfig does
    second = client.post("/reports", json={}).get_json()["id"]
    wait_status(client, second, {"READY"}, timeout=15)
    assert _settled(client, second, "READY")
