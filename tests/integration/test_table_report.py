"""The table report end to end: a datasets file, the API, a real worker, read-only SQL on PostgreSQL."""

from __future__ import annotations

import re
import textwrap

import pytest
from sqlalchemy import text

from tests.conftest import wait_status
from tests.pdf import read_pdf

DATASETS = textwrap.dedent('''\
    [datasets.numbers]
    description = "Numbers with labels"
    sql = "SELECT n, 'row ' || n AS label, n * 1.5 AS amount FROM generate_series(1, :count) AS n"
    totals = ["amount"]
    [datasets.numbers.params.count]
    type = "int"
    default = 100
    min = 0
    max = 1000000

    [datasets.echo]
    sql = "SELECT CAST(:needle AS text) AS needle, (SELECT count(*) FROM report_requests) AS reports"
    [datasets.echo.params.needle]
    type = "text"

    [datasets.writer]
    sql = "SELECT i12_overwrite_titles() AS changed"

    [datasets.sleeper]
    sql = "SELECT pg_sleep(3) AS slept"
    ''')


@pytest.fixture
def datasets(settings, tmp_path):
    """A datasets file of test datasets, used by this process's web and worker."""
    path = tmp_path / "datasets.toml"
    path.write_text(DATASETS)
    settings(report_datasets_file=path)
    return path


def _run(client, report_type: str, params: dict | None = None, statuses=frozenset({"READY", "FAILED"})) -> dict:
    created = client.post("/reports", json={"report_type": report_type, "params": params or {}})
    assert created.status_code == 202, created.get_data(as_text=True)
    return wait_status(client, created.get_json()["id"], set(statuses), timeout=60)


def test_each_dataset_is_offered_as_a_type_with_its_params_schema(client, datasets):
    items = {i["name"]: i for i in client.get("/report-types").get_json()["items"]}
    numbers = items["table.numbers"]
    assert numbers["description"] == "Numbers with labels" and numbers["version"].startswith("1.0+")
    assert numbers["params_schema"]["properties"]["count"] == {
        "default": 100, "maximum": 1000000, "minimum": 0, "title": "Count", "type": "integer"}
    assert items["table.echo"]["params_schema"]["required"] == ["needle"]


def test_ten_thousand_row_table_renders_through_the_worker_with_progress(client, worker, datasets):
    final = _run(client, "table.numbers", {"count": 10_000})
    assert final["status"] == "READY", final
    pages, body = read_pdf(client.get(f"/reports/{final['id']}/download").data)
    assert pages > 100
    assert "1 row 1 1.50" in body and "10,000 row 10000 15,000.00" in body
    assert "Total" in body and "75,007,500.00" in body
    assert re.search(rf"page {pages} of\s*{pages}", body)
    record = client.get(f"/reports/{final['id']}").get_json()
    assert record["report_type_version"].startswith("1.0+")
    assert record["params"] == {"count": 10000}


def test_defaults_apply_to_params_left_out(client, worker, datasets):
    final = _run(client, "table.numbers")
    assert final["status"] == "READY"
    _, body = read_pdf(client.get(f"/reports/{final['id']}/download").data)
    assert "Parameters: Count: 100" in body and "100 rows" in body


def test_an_injection_attempt_in_a_text_parameter_is_data(client, worker, datasets, db_session):
    needle = "x'); DROP TABLE report_requests; --"
    final = _run(client, "table.echo", {"needle": needle})
    assert final["status"] == "READY", final
    _, body = read_pdf(client.get(f"/reports/{final['id']}/download").data)
    assert needle in body
    assert db_session.execute(text("SELECT count(*) FROM report_requests")).scalar_one() == 1


def test_an_update_in_a_dataset_fails_at_once_and_changes_nothing(client, worker, datasets, db_session):
    # A query that looks harmless but calls a function that writes: only the READ ONLY transaction stops it.
    db_session.execute(text("CREATE OR REPLACE FUNCTION i12_overwrite_titles() RETURNS int LANGUAGE sql AS "
                            "$$ UPDATE report_requests SET title = 'overwritten'; SELECT 1 $$"))
    db_session.commit()
    final = _run(client, "table.writer")
    assert final["status"] == "FAILED"
    assert "read-only transaction" in final["error_message"] and final["attempts"] == 1
    titles = db_session.execute(text("SELECT count(*) FROM report_requests WHERE title = 'overwritten'")).scalar_one()
    assert titles == 0


def test_a_query_past_the_timeout_fails_saying_so(client, worker, datasets, settings):
    settings(report_datasets_file=datasets, report_query_timeout_seconds=1)
    final = _run(client, "table.sleeper")
    assert final["status"] == "FAILED"
    assert final["error_message"] == "query timed out after 1 s (REPORT_QUERY_TIMEOUT_SECONDS)"


def test_the_row_cap_cuts_the_table_and_the_report_says_so(client, worker, datasets, settings):
    settings(report_datasets_file=datasets, report_max_rows=50)
    final = _run(client, "table.numbers", {"count": 80})
    assert final["status"] == "READY"
    _, body = read_pdf(client.get(f"/reports/{final['id']}/download").data)
    assert "row 50 " in body and "row 51 " not in body
    assert "Cut at 50 rows" in body and "REPORT_MAX_ROWS" in body


def test_bad_params_and_unknown_datasets_are_refused_with_422_per_field(client, datasets):
    bad = client.post("/reports", json={"report_type": "table.numbers", "params": {"count": -1, "x": 1}})
    assert bad.status_code == 422
    assert sorted(d["field"] for d in bad.get_json()["error"]["details"]) == ["params.count", "params.x"]
    missing = client.post("/reports", json={"report_type": "table.echo", "params": {}})
    assert [d["field"] for d in missing.get_json()["error"]["details"]] == ["params.needle"]
    unknown = client.post("/reports", json={"report_type": "table.nope"})
    assert unknown.status_code == 422
    assert unknown.get_json()["error"]["details"][0]["field"] == "report_type"


def test_a_schedule_keeps_only_the_given_params_so_relative_defaults_move_with_each_run(client, settings, tmp_path):
    path = tmp_path / "datasets.toml"
    path.write_text(DATASETS + '\n[datasets.recent]\nsql = "SELECT CAST(:since AS date) AS since, :n AS n"\n'
                    '[datasets.recent.params.since]\ntype = "date"\ndefault = "today-7d"\n'
                    '[datasets.recent.params.n]\ntype = "int"\ndefault = 1\n')
    settings(report_datasets_file=path)
    created = client.post("/schedules", json={"name": "recent weekly", "cron": "0 8 * * 1", "timezone": "UTC",
                                              "report_type": "table.recent", "params": {"n": 5}})
    assert created.status_code == 201, created.get_data(as_text=True)
    assert created.get_json()["params"] == {"n": 5}
