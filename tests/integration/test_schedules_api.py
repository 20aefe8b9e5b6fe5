"""The /schedules API: create/read/change/pause/resume/run/delete, 422s naming the field, roles, audit, filters."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import TEST_OPERATOR

BODY = {"name": "ops weekly", "cron": "0 8 * * 1", "timezone": "Europe/Paris", "title": "Ops {week}",
        "recipients": ["a@example.com", "b@example.com"]}


def create(client, **changes):  # type: ignore[no-untyped-def]
    response = client.post("/schedules", json=BODY | changes)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response


def audit_actions(client) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return [(e["action"], e["outcome"]) for e in client.get("/audit?limit=200").get_json()["items"]]


def test_create_answers_201_with_location_next_runs_and_the_cron_in_words(client):
    response = create(client)
    body = response.get_json()
    assert response.headers["Location"] == f"/schedules/{body['id']}"
    assert body["description"] == "every Monday at 08:00 (Europe/Paris)"
    assert body["report_type"] == "operations" and body["misfire"] == "latest" and body["enabled"] is True
    assert body["recipients"] == ["a@example.com", "b@example.com"]
    assert len(body["next_runs"]) == 5 and body["next_run_at"] == body["next_runs"][0]
    assert body["created_by"] == TEST_OPERATOR
    assert ("schedule.create", "ok") in audit_actions(client)


@pytest.mark.parametrize(("changes", "field", "words"), [
    ({"cron": "* * *"}, "cron", "expected 5 fields"),
    ({"cron": "99 * * * *"}, "cron", "99"),
    ({"timezone": "Mars/Olympus"}, "timezone", "unknown time zone"),
    ({"report_type": "nope"}, "report_type", "unknown report type"),
    ({"params": {"window_hours": -5}}, "params.window_hours", ""),
    ({"params": {"surprise": 1}}, "params.surprise", ""),
    ({"recipients": ["not-an-email"]}, "recipients", "not a valid email"),
    ({"misfire": "sometimes"}, "misfire", ""),
    ({"name": ""}, "name", ""),
    ({"extra": 1}, "extra", ""),
])
def test_bad_input_is_422_naming_the_field_and_creates_nothing(client, changes, field, words):
    response = client.post("/schedules", json=BODY | changes)
    assert response.status_code == 422, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert error["code"] == "invalid_input"
    fields = [d["field"] for d in error["details"]]
    assert any(f == field or f.startswith(field + ".") for f in fields), fields
    assert words in error["message"]
    assert client.get("/schedules").get_json()["items"] == []


def test_missing_name_and_cron_are_both_named(client):
    response = client.post("/schedules", json={})
    assert response.status_code == 422
    assert {d["field"] for d in response.get_json()["error"]["details"]} == {"name", "cron"}


def test_duplicate_name_is_409(client):
    create(client)
    response = client.post("/schedules", json=BODY)
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "conflict"
    assert len(client.get("/schedules").get_json()["items"]) == 1


def test_renaming_onto_another_schedules_name_is_409_and_audited_as_refused(client):
    create(client)
    other = create(client, name="other").get_json()
    response = client.patch(f"/schedules/{other['id']}", json={"name": "ops weekly"})
    assert response.status_code == 409
    assert client.get(f"/schedules/{other['id']}").get_json()["name"] == "other"
    assert ("schedule.update", "refused") in audit_actions(client)


def test_malformed_and_unknown_ids(client):
    assert client.get("/schedules/not-a-uuid").get_json()["error"]["code"] == "invalid_id"
    assert client.get(f"/schedules/{uuid.uuid4()}").status_code == 404
    assert client.post(f"/schedules/{uuid.uuid4()}/run").status_code == 404


def test_list_is_keyset_paged_newest_first(client):
    for i in range(3):
        create(client, name=f"s{i}")
    first = client.get("/schedules?limit=2").get_json()
    assert [s["name"] for s in first["items"]] == ["s2", "s1"]
    second = client.get(f"/schedules?limit=2&cursor={first['next_cursor']}").get_json()
    assert [s["name"] for s in second["items"]] == ["s0"] and second["next_cursor"] is None
    assert client.get("/schedules?limit=0").status_code == 400
    assert client.get("/schedules?cursor=%%%").status_code == 400


def test_patch_changes_fields_and_a_new_cron_moves_the_next_run(client):
    schedule = create(client).get_json()
    response = client.patch(f"/schedules/{schedule['id']}", json={"cron": "30 6 * * *", "misfire": "skip"})
    assert response.status_code == 200
    body = response.get_json()
    assert body["cron"] == "30 6 * * *" and body["misfire"] == "skip"
    assert body["description"] == "every day at 06:30 (Europe/Paris)"
    assert body["next_run_at"] != schedule["next_run_at"]
    bad = client.patch(f"/schedules/{schedule['id']}", json={"timezone": "Nowhere/Land"})
    assert bad.status_code == 422 and bad.get_json()["error"]["details"][0]["field"] == "timezone"
    assert client.get(f"/schedules/{schedule['id']}").get_json()["timezone"] == "Europe/Paris"
    assert ("schedule.update", "ok") in audit_actions(client)


def test_pause_and_resume_are_audited_and_resume_computes_from_now(client):
    schedule = create(client, cron="* * * * *").get_json()
    paused = client.post(f"/schedules/{schedule['id']}/pause").get_json()
    assert paused["enabled"] is False and paused["next_run_at"] is None and paused["paused_reason"]
    assert client.post(f"/schedules/{schedule['id']}/pause").status_code == 200  # a repeat
    resumed = client.post(f"/schedules/{schedule['id']}/resume").get_json()
    assert resumed["enabled"] is True and resumed["paused_reason"] is None and resumed["next_run_at"]
    actions = audit_actions(client)
    assert ("schedule.pause", "ok") in actions and ("schedule.pause", "noop") in actions
    assert ("schedule.resume", "ok") in actions


def test_run_now_is_202_with_a_report_linked_to_the_schedule_and_no_slot(client):
    schedule = create(client).get_json()
    response = client.post(f"/schedules/{schedule['id']}/run")
    assert response.status_code == 202
    report_id = response.get_json()["id"]
    assert response.headers["Location"] == f"/reports/{report_id}"
    report = client.get(f"/reports/{report_id}").get_json()
    assert report["schedule_id"] == schedule["id"] and report["scheduled_for"] is None
    assert report["schedule_name"] == "ops weekly"
    assert report["notify_emails"] == ["a@example.com", "b@example.com"]
    assert report["title"].startswith("Ops 20") and "-W" in report["title"]
    detail = client.get(f"/schedules/{schedule['id']}").get_json()
    assert [r["report_id"] for r in detail["runs"]] == [report_id]
    assert ("schedule.run", "ok") in audit_actions(client)


def test_reports_filter_by_schedule_id(client):
    one = create(client, name="one").get_json()
    two = create(client, name="two").get_json()
    mine = client.post(f"/schedules/{one['id']}/run").get_json()["id"]
    client.post(f"/schedules/{two['id']}/run")
    client.post("/reports")
    items = client.get(f"/reports?schedule_id={one['id']}").get_json()["items"]
    assert [r["id"] for r in items] == [mine]
    assert client.get("/reports?schedule_id=nope").status_code == 400


def test_delete_keeps_the_reports_and_their_schedule_name(client):
    schedule = create(client).get_json()
    report_id = client.post(f"/schedules/{schedule['id']}/run").get_json()["id"]
    response = client.delete(f"/schedules/{schedule['id']}")
    assert response.status_code == 200 and response.get_json()["deleted"] is True
    assert client.get(f"/schedules/{schedule['id']}").status_code == 404
    report = client.get(f"/reports/{report_id}").get_json()
    assert report["schedule_id"] is None and report["schedule_name"] == "ops weekly"
    assert ("schedule.delete", "ok") in audit_actions(client)


def test_viewer_reads_but_cannot_write(client, viewer_client):
    schedule = create(client).get_json()
    assert viewer_client.get("/schedules").status_code == 200
    assert viewer_client.get(f"/schedules/{schedule['id']}").status_code == 200
    for method, url in (("post", "/schedules"), ("patch", f"/schedules/{schedule['id']}"),
                        ("delete", f"/schedules/{schedule['id']}"), ("post", f"/schedules/{schedule['id']}/run"),
                        ("post", f"/schedules/{schedule['id']}/pause"),
                        ("post", f"/schedules/{schedule['id']}/resume")):
        response = getattr(viewer_client, method)(url, json={})
        assert response.status_code == 403, (method, url)
    assert client.get(f"/reports?schedule_id={schedule['id']}").get_json()["items"] == []
