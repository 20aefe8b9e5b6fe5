"""CSRF on session requests, and rate limits (issue 6)."""

from __future__ import annotations

import re
import time
import uuid

import pytest

from tests.conftest import TEST_PASSWORD


@pytest.fixture
def csrf_on(app, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)


def _token(html: bytes) -> str:
    return re.search(rb'name="csrf_token" value="([^"]+)"', html).group(1).decode()  # type: ignore[union-attr]


def _signed_in(app, role: str = "operator"):  # type: ignore[no-untyped-def]
    from reportsvc.state import accounts

    name = f"{role}-{uuid.uuid4().hex[:8]}"
    with app.app_context():
        accounts.create_user(name, role, TEST_PASSWORD)
    c = app.test_client()
    token = _token(c.get("/login").data)
    assert c.post("/login", data={"name": name, "password": TEST_PASSWORD, "csrf_token": token}).status_code == 303
    return c, name


def _count_reports(client) -> int:  # type: ignore[no-untyped-def]
    return len(client.get("/reports?limit=200").get_json()["items"])


def test_login_form_needs_the_csrf_token(app, csrf_on):
    c = app.test_client()
    refused = c.post("/login", data={"name": "test-operator", "password": TEST_PASSWORD})
    assert refused.status_code == 400 and b"security token" in refused.data


def test_console_post_without_token_is_refused_and_changes_nothing(app, client, csrf_on):
    c, _ = _signed_in(app)
    before = _count_reports(client)
    refused = c.post("/console/reports", data={"report_type": "operations", "window_hours": "24"})
    assert refused.status_code == 400
    htmx = c.post("/console/reports", data={"report_type": "operations", "window_hours": "24"},
                  headers={"HX-Request": "true", "X-CSRFToken": "forged"})
    assert htmx.status_code == 400
    assert _count_reports(client) == before
    # Session-authenticated JSON API calls need it too (only bearer tokens are exempt).
    assert c.post("/reports", json={}).status_code == 400
    assert _count_reports(client) == before
    page = c.get("/console/")
    hx = re.search(rb"hx-headers='([^']+)'", page.data).group(1)  # type: ignore[union-attr]
    token = re.search(rb'"X-CSRFToken": ?"([^"]+)"', hx.replace(b"&#34;", b'"')).group(1).decode()  # type: ignore[union-attr]
    ok = c.post("/console/reports", data={"report_type": "operations", "window_hours": "24"},
                headers={"HX-Request": "true", "X-CSRFToken": token})
    assert ok.status_code == 201
    form = c.post("/console/reports", data={"report_type": "operations", "window_hours": "24",
                                            "csrf_token": _token(page.data)})
    assert form.status_code == 303
    assert _count_reports(client) == before + 2


def test_bearer_token_calls_are_exempt(client, csrf_on):
    assert client.post("/reports", json={}).status_code == 202


def test_report_creation_is_rate_limited_per_user_and_recovers(client, admin_client, settings):
    # Windows start at the first hit; 5 s leaves room for a loaded machine.
    settings(rate_limit_report_create="3 per 5 seconds")
    for _ in range(3):
        assert client.post("/reports").status_code == 202
    limited = client.post("/reports")
    assert limited.status_code == 429
    assert limited.get_json()["error"]["code"] == "rate_limited"
    retry_after = int(limited.headers["Retry-After"])
    assert 1 <= retry_after <= 5
    assert admin_client.post("/reports").status_code == 202  # another user has their own budget
    time.sleep(retry_after + 0.2)
    assert client.post("/reports").status_code == 202


def test_console_creation_shares_the_limit(client, settings):
    settings(rate_limit_report_create="1 per 5 seconds")
    assert client.post("/reports").status_code == 202
    page = client.post("/console/reports", data={"report_type": "operations", "window_hours": "24"})
    assert page.status_code == 429 and "Retry-After" in page.headers


def test_login_attempts_are_rate_limited_per_ip_and_account(app, settings):
    settings(rate_limit_login_ip="3 per 30 seconds", rate_limit_login_account="100 per minute")
    c = app.test_client()
    for _ in range(3):
        assert c.post("/login", data={"name": "nobody", "password": "x" * 12}).status_code == 401
    limited = c.post("/login", data={"name": "nobody", "password": "x" * 12})
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    settings(rate_limit_login_ip="100 per minute", rate_limit_login_account="2 per 30 seconds")
    other_ip = app.test_client()
    for client_ip in ("10.0.0.1", "10.0.0.2"):
        r = other_ip.post("/login", data={"name": "victim", "password": "x" * 12},
                          environ_base={"REMOTE_ADDR": client_ip})
        assert r.status_code == 401
    r = other_ip.post("/login", data={"name": "victim", "password": "x" * 12}, environ_base={"REMOTE_ADDR": "10.0.0.3"})
    assert r.status_code == 429  # the account's budget is spent whatever the address
    assert c.get("/login").status_code == 200  # viewing the page is never limited
