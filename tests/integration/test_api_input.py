"""Bad input gets a clear 4xx and changes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from reportsvc.extensions import db


def _count(app) -> int:
    with app.app_context():
        n = db.session.execute(text("SELECT count(*) FROM report_requests")).scalar()
        db.session.rollback()
        return int(n)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"report_type": "nope"}, "report_type"),
        ({"params": {"window_hours": 0}}, "params.window_hours"),
        ({"params": {"window_hours": 100000}}, "params.window_hours"),
        ({"params": {"window_hours": "abc"}}, "params.window_hours"),
        ({"params": {"colour": "red"}}, "params.colour"),
        ({"notify_email": "not-an-email"}, "notify_email"),
        ({"title": "x" * 201}, "title"),
        ({"title": "bad\x00title"}, "title"),
        ({"unexpected": 1}, "unexpected"),
        ({"params": {"simulate": {"fail_times": -1}}}, "params.simulate.fail_times"),
        ({"params": {"simulate": {"explode": True}}}, "params.simulate.explode"),
        ({"params": "not an object"}, "params"),
        # the renderer's limits: refused at create, never three OverflowError attempts and a dead letter
        ({"params": {"until": "9999-12-31T23:59:59Z"}}, "params.until"),
        ({"params": {"until": 99999999999}}, "params.until"),  # a number would be read as year 5138
        ({"params": {"until": "1970-01-01T00:00:00Z"}}, "params.until"),
    ],
)
def test_invalid_bodies_are_422_naming_the_field(app, client, body, field):
    response = client.post("/reports", json=body)
    assert response.status_code == 422, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert error["code"] == "invalid_input"
    assert field in [d["field"] for d in error["details"]], error
    assert _count(app) == 0


def test_json_array_body_is_422(app, client):
    response = client.post("/reports", json=[1, 2])
    assert response.status_code == 422
    assert _count(app) == 0


def test_wrong_content_type_is_415(app, client):
    response = client.post("/reports", data="title=x", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert response.get_json()["error"]["code"] == "unsupported_media_type"
    assert _count(app) == 0


def test_malformed_json_is_400(app, client):
    response = client.post("/reports", data="{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_json"
    assert _count(app) == 0


def test_oversized_body_is_413(app, client):
    response = client.post("/reports", json={"title": "x", "params": {"pad": "y" * 70_000}})
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "payload_too_large"
    assert _count(app) == 0


def test_simulate_is_refused_when_fault_injection_is_off(app, client, settings):
    settings(fault_injection=False)
    response = client.post("/reports", json={"params": {"simulate": {"fail_times": 1}}})
    assert response.status_code == 422
    assert response.get_json()["error"]["details"][0]["field"] == "params.simulate"
    assert _count(app) == 0


def test_unicode_title_is_kept(client):
    report_id = client.post("/reports", json={"title": "Übersicht — 週報 📈"}).get_json()["id"]
    assert client.get(f"/reports/{report_id}").get_json()["title"] == "Übersicht — 週報 📈"


@pytest.mark.parametrize("path", ["/reports/abc", "/reports/abc/status", "/reports/abc/download"])
def test_malformed_id_is_400_invalid_id(client, path):
    response = client.get(path)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_id"


def test_encoded_slashes_in_an_id_match_no_route_404(client):
    # werkzeug decodes %2f before routing: the path has more segments than any report route, so no view runs
    response = client.get("/reports/..%2f..%2fetc%2fpasswd/download")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_unknown_id_is_404(client):
    for path in ("/reports/00000000-0000-0000-0000-000000000000",
                 "/reports/00000000-0000-0000-0000-000000000000/status"):
        response = client.get(path)
        assert response.status_code == 404
        assert response.get_json()["error"]["code"] == "not_found"
    assert client.delete("/reports/00000000-0000-0000-0000-000000000000").status_code == 404
    assert client.post("/reports/00000000-0000-0000-0000-000000000000/retry").status_code == 404


def test_retry_of_a_non_failed_report_is_409(client):
    report_id = client.post("/reports").get_json()["id"]
    response = client.post(f"/reports/{report_id}/retry")
    assert response.status_code == 409


@pytest.mark.parametrize(("query", "code"), [("status=DONE", "invalid_filter"), ("limit=0", "invalid_filter"),
                                             ("limit=abc", "invalid_filter"), ("limit=1000", "invalid_filter"),
                                             ("cursor=%%%", "invalid_cursor")])
def test_bad_list_filters_are_400(client, query, code):
    response = client.get(f"/reports?{query}")
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == code


def test_list_pages_filters_and_searches(client):
    ids = [client.post("/reports", json={"title": f"Report {i:02d}"}).get_json()["id"] for i in range(7)]
    first = client.get("/reports?limit=3").get_json()
    assert [i["id"] for i in first["items"]] == ids[::-1][:3]
    second = client.get(f"/reports?limit=3&cursor={first['next_cursor']}").get_json()
    third = client.get(f"/reports?limit=3&cursor={second['next_cursor']}").get_json()
    seen = [i["id"] for page in (first, second, third) for i in page["items"]]
    assert seen == ids[::-1] and third["next_cursor"] is None
    assert [i["title"] for i in client.get("/reports?q=report 03").get_json()["items"]] == ["Report 03"]
    assert client.get(f"/reports?q={ids[2][:8]}").get_json()["items"][0]["id"] == ids[2]
    assert len(client.get("/reports?status=PENDING").get_json()["items"]) == 7
    assert client.get("/reports?status=READY").get_json()["items"] == []


def test_unknown_route_and_method_are_json(client):
    assert client.get("/nope").get_json()["error"]["code"] == "not_found"
    response = client.put("/reports")
    assert response.status_code == 405 and response.get_json()["error"]["code"] == "method_not_allowed"


def test_health_and_readiness(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["checks"] == {"database": "ok", "redis": "ok", "storage": "ok"}
