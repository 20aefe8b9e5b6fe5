"""CREATE_FAST_PATH (issue 16): an ordinary `POST /reports` is answered without Flask's request cycle with the
same 202, the same row, event and message, the same limit counters; everything else, and every refusal or
failure, is answered by Flask exactly as with the setting off."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from reportsvc.extensions import db
from reportsvc.state.models import ReportRequest


@pytest.fixture
def through_flask(app) -> Iterator[list[str]]:  # type: ignore[no-untyped-def]
    """The paths of the requests that went through Flask's request cycle (its before-request hooks)."""
    seen: list[str] = []
    real = app.preprocess_request

    def spy() -> Any:
        from flask import request

        seen.append(request.path)
        return real()

    app.preprocess_request = spy
    yield seen
    del app.preprocess_request


def _fast(settings, on: bool) -> None:  # type: ignore[no-untyped-def]
    from reportsvc.config import get_settings

    current = get_settings()
    settings(hotpath=dataclasses.replace(current.hotpath, create_fast_path=on))


def _shape(response: Any) -> tuple[int, list[tuple[str, str]], set[str]]:
    report_id = response.get_json()["id"]
    headers = [(k, v.replace(report_id, "<id>")) for k, v in response.headers.items()]
    return response.status_code, headers, set(response.get_json())


def test_the_fast_path_answers_what_flask_answers(app, client, settings, through_flask):
    fast = client.post("/reports", json={"title": "fast", "params": {}})
    _fast(settings, False)
    slow = client.post("/reports", json={"title": "fast", "params": {}})
    assert through_flask == ["/reports"]  # the first never entered Flask's request cycle
    assert _shape(fast) == _shape(slow)
    assert fast.get_data().replace(fast.get_json()["id"].encode(), b"") == \
        slow.get_data().replace(slow.get_json()["id"].encode(), b"")
    with app.app_context():
        row = db.session.get(ReportRequest, fast.get_json()["id"])
        assert (row.title, row.status, row.requested_by, row.priority) == ("fast", "PENDING", "test-operator",
                                                                          "interactive")
        assert row.message_id  # named its message, which was sent
        db.session.rollback()


def test_over_https_both_paths_add_hsts(client, settings, through_flask):
    fast = client.post("/reports", json={}, base_url="https://localhost")
    _fast(settings, False)
    slow = client.post("/reports", json={}, base_url="https://localhost")
    assert through_flask == ["/reports"]
    assert fast.headers["Strict-Transport-Security"] == slow.headers["Strict-Transport-Security"]
    assert _shape(fast) == _shape(slow)


@pytest.mark.parametrize("case", ["bad json", "control char", "unknown field", "wrong type", "query", "text body",
                                  "notify_email", "unknown token", "viewer"])
def test_what_the_fast_path_does_not_take_is_answered_by_flask_as_before(app, client, viewer_client, settings,
                                                                         through_flask, case):
    def send() -> Any:
        if case == "bad json":
            return client.post("/reports", data=b"{nope", content_type="application/json")
        if case == "control char":
            return client.post("/reports", json={"title": "a\x00b"})
        if case == "unknown field":
            return client.post("/reports", json={"colour": "red"})
        if case == "wrong type":
            return client.post("/reports", json=[1, 2])
        if case == "query":
            return client.post("/reports?x=1", json={})
        if case == "text body":
            return client.post("/reports", data=b"{}", content_type="text/plain")
        if case == "notify_email":
            return client.post("/reports", json={"notify_email": "someone@example.com"})
        if case == "unknown token":
            return client.post("/reports", json={}, headers={"Authorization": "Bearer rsv_nosuchtoken"})
        return viewer_client.post("/reports", json={})

    fast = send()
    _fast(settings, False)
    slow = send()
    assert len(through_flask) == 2  # both answered by Flask
    assert fast.status_code == slow.status_code == (202 if case in ("query", "notify_email") else fast.status_code)
    if fast.status_code != 202:
        assert fast.get_json() == slow.get_json()
        assert fast.headers.get("WWW-Authenticate") == slow.headers.get("WWW-Authenticate")


def test_a_refusal_counted_on_the_fast_path_is_answered_by_flask_and_counted_once(client, settings, redis_client,
                                                                                  through_flask):
    settings(rate_limit_report_create="2 per minute", rate_limit_reserve=1)
    codes = [client.post("/reports", json={}).status_code for _ in range(3)]
    assert codes == [202, 202, 429]
    assert through_flask == ["/reports"]  # only the refusal, to be answered by the same handler
    refused = client.post("/reports", json={})
    assert refused.status_code == 429 and 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.get_json()["error"]["code"] == "rate_limited"
    (key,) = redis_client.scan_iter("LIMITS:*/create/2/1/minute")
    assert int(redis_client.get(key)) == 4  # one INCR per request, never a second for the hand-over


def test_a_failed_submit_is_raised_where_the_view_would_raise_it(client, settings, monkeypatch, caplog, redis_client,
                                                                 through_flask):
    from reportsvc.ops import jobs

    settings(rate_limit_report_create="5 per minute", rate_limit_reserve=1)

    def broken(**fields: Any) -> Any:
        raise RuntimeError("the database is on fire")

    monkeypatch.setattr(jobs, "submit", broken)
    client.application.testing = False  # answer 500 as in production instead of re-raising
    try:
        with caplog.at_level(logging.ERROR, logger="reportsvc.web"):
            response = client.post("/reports", json={})
    finally:
        client.application.testing = True
    assert response.status_code == 500
    assert response.get_json()["error"]["code"] == "internal_error"
    assert any("Unhandled error on POST /reports" in r.getMessage() for r in caplog.records)
    assert through_flask == ["/reports"]
    (key,) = redis_client.scan_iter("LIMITS:*/create/5/1/minute")
    assert int(redis_client.get(key)) == 1


def test_off_every_create_goes_through_flask(client, settings, through_flask):
    _fast(settings, False)
    assert [client.post("/reports", json={}).status_code for _ in range(2)] == [202, 202]
    assert through_flask == ["/reports", "/reports"]


def test_a_request_hook_it_does_not_know_sends_creates_through_flask(app, client, through_flask):
    ran: list[str] = []

    def audit_every_request() -> None:
        ran.append("hook")

    app.before_request_funcs.setdefault(None, []).append(audit_every_request)
    try:
        assert client.post("/reports", json={}).status_code == 202
    finally:
        app.before_request_funcs[None].remove(audit_every_request)
    assert ran == ["hook"] and through_flask == ["/reports"]
    assert client.post("/reports", json={}).status_code == 202  # the known hooks alone again: the fast path
    assert through_flask == ["/reports"]


def test_a_body_handed_over_in_parts_is_read_whole(app, auth_tokens, through_flask):
    import io
    import json

    from werkzeug.test import EnvironBuilder

    class Trickle(io.RawIOBase):
        """A server's body stream that hands over three bytes a call, whatever was asked."""

        def __init__(self, data: bytes) -> None:
            self.data = data

        def read(self, size: int = -1) -> bytes:
            part, self.data = self.data[:3], self.data[3:]
            return part

    body = json.dumps({"title": "in parts"}).encode()
    environ = EnvironBuilder(path="/reports", method="POST", data=body, content_type="application/json",
                             headers={"Authorization": f"Bearer {auth_tokens.token('test-operator')}"}).get_environ()
    environ["wsgi.input"] = Trickle(body)
    status: list[str] = []
    answer = b"".join(app(environ, lambda s, h, e=None: status.append(s)))
    assert status == ["202 ACCEPTED"] and through_flask == []
    with app.app_context():
        assert db.session.get(ReportRequest, json.loads(answer)["id"]).title == "in parts"
        db.session.rollback()


def test_a_validation_that_raises_is_answered_by_flasks_handler(client, monkeypatch, through_flask):
    from reportsvc import reports

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a report type's validation is broken")

    monkeypatch.setattr(reports, "validate_params", broken)
    client.application.testing = False  # answer 500 as in production instead of re-raising
    try:
        response = client.post("/reports", json={})
    finally:
        client.application.testing = True
    assert (response.status_code, response.get_json()["error"]["code"]) == (500, "internal_error")
    assert through_flask == ["/reports"]


@pytest.mark.parametrize("script_name", ["/café", "/日本", "/a b"])
def test_under_a_script_name_beyond_ascii_the_location_is_the_uri_flask_sends(client, settings, through_flask,
                                                                              script_name):
    """Flask quotes the Location (an IRI) to a URI; a header beyond latin-1 would fail in the server (a 500 for
    a report already created)."""
    environ = {"SCRIPT_NAME": script_name.encode().decode("latin-1")}  # WSGI: the path's bytes as latin-1
    fast = client.post("/reports", json={}, environ_overrides=environ)
    _fast(settings, False)
    slow = client.post("/reports", json={}, environ_overrides=environ)
    assert through_flask == ["/reports"]
    assert _shape(fast) == _shape(slow)
    assert fast.headers["Location"].isascii()


def test_a_body_that_fails_to_read_is_answered_by_flask_as_with_the_setting_off(app, auth_tokens, settings,
                                                                               through_flask):
    import io
    import json

    from werkzeug.test import EnvironBuilder

    class Reset(io.RawIOBase):
        """A server's body stream whose client connection was reset."""

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: Any) -> int:
            raise ConnectionResetError("connection reset by peer")

    def post() -> tuple[list[str], Any]:
        environ = EnvironBuilder(path="/reports", method="POST", data=b'{"title": "x"}',
                                 content_type="application/json",
                                 headers={"Authorization": f"Bearer {auth_tokens.token('test-operator')}"}
                                 ).get_environ()
        environ["wsgi.input"] = Reset()
        status: list[str] = []
        answer = b"".join(app(environ, lambda s, h, e=None: status.append(s)))
        return status, json.loads(answer)

    app.testing = False  # answer 500 as in production instead of re-raising
    try:
        fast = post()
        _fast(settings, False)
        slow = post()
    finally:
        app.testing = True
    assert fast == slow
    assert fast[0] == ["400 BAD REQUEST"] and fast[1]["error"]["code"] == "bad_request"  # Werkzeug's answer
    assert through_flask == ["/reports", "/reports"]
