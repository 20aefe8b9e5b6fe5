"""Console pages for schedules: list, create with inline errors, live preview, actions, detail, report link."""

from __future__ import annotations

import re

from tests.conftest import TEST_OPERATOR

FORM = {"name": "ops weekly", "cron": "0 8 * * 1", "timezone": "Europe/Paris", "report_type": "operations",
        "params": "{}", "title": "Ops {week}", "recipients": "a@example.com, b@example.com", "misfire": "latest"}


def create(client, **changes):  # type: ignore[no-untyped-def]
    response = client.post("/console/schedules", data=FORM | changes)
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    return response.headers["Location"].rsplit("/", 1)[-1]


def test_list_shows_the_cron_in_words_next_run_relative_and_paused_badge(client):
    schedule_id = create(client)
    client.post(f"/console/schedules/{create(client, name='second')}/pause")
    html = client.get("/console/schedules").get_data(as_text=True)
    assert "every Monday at 08:00 (Europe/Paris)" in html
    assert re.search(r'next-run-relative">in \d+ (d|h|min)<', html)
    assert html.count("schedule-paused") == 1
    assert f"/console/schedules/{schedule_id}" in html
    assert "<script>" not in html and "style=" not in html


def test_create_with_bad_fields_shows_inline_errors_and_creates_nothing(client):
    response = client.post("/console/schedules", data=FORM | {"cron": "* * *", "timezone": "Nowhere/Land",
                                                              "recipients": "nope", "params": "[1]"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    for field in ("cron", "timezone", "recipients", "params"):
        assert f'id="s-{field}-error"' in html, field
    assert "expected 5 fields" in html
    assert client.get("/schedules").get_json()["items"] == []


def test_preview_lists_the_next_five_runs_or_names_the_error(client):
    html = client.get("/console/schedules/preview?cron=0+8+*+*+1&timezone=Europe/Paris").get_data(as_text=True)
    assert html.count("<li>") == 5 and "Mon " in html
    bad = client.get("/console/schedules/preview?cron=0+8&timezone=UTC").get_data(as_text=True)
    assert 'id="preview-error"' in bad and "expected 5 fields" in bad


def test_run_now_pause_resume_and_delete_from_the_detail_page(client):
    schedule_id = create(client)
    page = client.get(f"/console/schedules/{schedule_id}").get_data(as_text=True)
    assert 'hx-confirm="Delete ops weekly? Its reports stay."' in page
    ran = client.post(f"/console/schedules/{schedule_id}/run")
    assert ran.status_code == 303 and "/console/reports/" in ran.headers["Location"]
    report_id = ran.headers["Location"].rsplit("/", 1)[-1]
    detail = client.get(f"/console/reports/{report_id}").get_data(as_text=True)
    assert "from schedule" in detail and "ops weekly" in detail and "run now (no slot)" in detail
    history = client.get(f"/console/schedules/{schedule_id}").get_data(as_text=True)
    assert f'data-report="{report_id}"' in history
    client.post(f"/console/schedules/{schedule_id}/pause")
    assert client.get(f"/schedules/{schedule_id}").get_json()["enabled"] is False
    client.post(f"/console/schedules/{schedule_id}/resume")
    assert client.get(f"/schedules/{schedule_id}").get_json()["enabled"] is True
    deleted = client.post(f"/console/schedules/{schedule_id}/delete")
    assert deleted.status_code == 303 and deleted.headers["Location"].endswith("/console/schedules")
    assert "deleted schedule ops weekly" in client.get(f"/console/reports/{report_id}").get_data(as_text=True)
    audit = [(e["action"], e["actor"], e["detail"].get("via")) for e in client.get("/audit").get_json()["items"]]
    assert ("schedule.delete", TEST_OPERATOR, "console") in audit


def test_edit_saves_and_refuses_a_bad_zone_inline(client):
    schedule_id = create(client)
    form = client.get(f"/console/schedules/{schedule_id}/edit").get_data(as_text=True)
    assert 'value="0 8 * * 1"' in form
    bad = client.post(f"/console/schedules/{schedule_id}/edit", data=FORM | {"timezone": "Mars/Base"})
    assert bad.status_code == 422 and 'id="s-timezone-error"' in bad.get_data(as_text=True)
    ok = client.post(f"/console/schedules/{schedule_id}/edit", data=FORM | {"cron": "30 6 * * *"})
    assert ok.status_code == 303
    assert client.get(f"/schedules/{schedule_id}").get_json()["cron"] == "30 6 * * *"


def test_viewer_sees_the_pages_without_the_buttons_and_cannot_act(client, viewer_client):
    schedule_id = create(client)
    page = viewer_client.get(f"/console/schedules/{schedule_id}").get_data(as_text=True)
    assert 'id="run-now"' not in page and "New schedule" not in viewer_client.get("/console/schedules").get_data(
        as_text=True)
    assert viewer_client.post(f"/console/schedules/{schedule_id}/run").status_code == 403
