"""Completion webhooks against a real HTTP receiver started in the test, delivered by real workers."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import uuid
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.conftest import wait_for, wait_status

SECRET = "webhook-test-key-0123456789"


def verify(secret: str, header: str, body: bytes, tolerance: int = 300) -> bool:
    """What the README shows a receiver running, line for line."""
    fields = dict(part.split("=", 1) for part in header.split(","))
    timestamp = int(fields["t"])
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, fields["v1"]) and abs(time.time() - timestamp) <= tolerance


class Receiver:
    """A small HTTP server that records every POST and answers with the next queued code (then 200)."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self.codes: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server hook name)
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.requests.append((self.path, dict(self.headers.items()), body))
                code = receiver.codes.pop(0) if receiver.codes else 200
                self.send_response(code)
                if code in (301, 302, 307, 308):
                    self.send_header("Location", "/elsewhere")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def hooks_on(settings, base_settings):
    """WEBHOOK_SECRET set and WEBHOOK_ALLOW_PRIVATE=1 (the receiver is on 127.0.0.1)."""
    def apply(**changes):
        return settings(push=replace(base_settings.push, webhook_secret=SECRET, webhook_allow_private=True),
                        **changes)
    apply()
    return apply


def _events(client, report_id, kind):
    return [e for e in client.get(f"/reports/{report_id}").get_json()["events"] if e["kind"] == kind]


def test_ready_report_posts_one_signed_webhook_the_receiver_verifies(client, worker, hooks_on, receiver):
    report_id = client.post("/reports", json={"title": "Nightly", "callback_url": receiver.url}).get_json()["id"]
    wait_status(client, report_id, {"READY"})
    wait_for(lambda: _events(client, report_id, "webhook_delivered"), timeout=15)
    assert len(receiver.requests) == 1
    path, headers, body = receiver.requests[0]
    assert path == "/hook"
    assert verify(SECRET, headers["X-Reportsvc-Signature"], body)
    assert not verify("another-secret-0123456789", headers["X-Reportsvc-Signature"], body)
    data = json.loads(body)
    assert data["id"] == report_id and data["status"] == "READY" and data["type"] == "operations"
    assert data["title"] == "Nightly" and data["attempts"] == 1 and data["error"] is None
    assert data["download_url"] == f"http://reports.test/reports/{report_id}/download"
    assert data["finished_at"]
    delivered = _events(client, report_id, "webhook_delivered")[0]
    assert delivered["detail"]["response_code"] == 200 and delivered["detail"]["outcome"] == "READY#1"


def test_failed_report_posts_its_error(client, worker, hooks_on, receiver):
    hooks_on(report_max_retries=0)
    report_id = client.post("/reports", json={"callback_url": receiver.url,
                                              "params": {"simulate": {"fail_times": 5}}}).get_json()["id"]
    wait_status(client, report_id, {"FAILED"})
    wait_for(lambda: receiver.requests, timeout=15)
    data = json.loads(receiver.requests[0][2])
    assert data["status"] == "FAILED" and data["error"] and data["download_url"] is None


def test_cancelled_report_posts_cancelled(client, hooks_on, receiver, make_worker):
    report_id = client.post("/reports", json={"callback_url": receiver.url}).get_json()["id"]
    assert client.delete(f"/reports/{report_id}").status_code == 200
    make_worker()
    wait_for(lambda: receiver.requests, timeout=15)
    assert json.loads(receiver.requests[0][2])["status"] == "CANCELLED"


def test_each_attempt_and_its_code_go_on_the_timeline_until_one_succeeds(client, worker, hooks_on, receiver,
                                                                           monkeypatch):
    from reportsvc.ops import webhooks

    monkeypatch.setattr(webhooks, "RETRY_SCHEDULE_MS", (100,) * 19)
    receiver.codes = [500, 503]
    report_id = client.post("/reports", json={"callback_url": receiver.url}).get_json()["id"]
    wait_for(lambda: _events(client, report_id, "webhook_delivered"), timeout=20)
    failed = _events(client, report_id, "webhook_attempt_failed")
    assert [e["detail"]["response_code"] for e in failed] == [500, 503]
    assert [e["detail"]["attempt"] for e in failed] == [1, 2]
    assert _events(client, report_id, "webhook_delivered")[0]["detail"]["attempt"] == 3
    assert len(receiver.requests) == 3


def test_a_redirect_is_not_followed(client, worker, hooks_on, receiver, monkeypatch):
    from reportsvc.ops import webhooks

    monkeypatch.setattr(webhooks, "RETRY_SCHEDULE_MS", (60_000,) * 19)
    receiver.codes = [302]
    report_id = client.post("/reports", json={"callback_url": receiver.url}).get_json()["id"]
    failed = wait_for(lambda: _events(client, report_id, "webhook_attempt_failed"), timeout=15)
    assert failed[0]["detail"]["response_code"] == 302
    time.sleep(0.5)
    assert [path for path, _, _ in receiver.requests] == ["/hook"]


def test_a_private_address_is_refused_without_webhook_allow_private(client, worker, settings, base_settings,
                                                                     receiver):
    settings(push=replace(base_settings.push, webhook_secret=SECRET, webhook_allow_private=False))
    report_id = client.post("/reports", json={"callback_url": receiver.url}).get_json()["id"]
    refused = wait_for(lambda: _events(client, report_id, "webhook_failed"), timeout=15)
    assert "not a public address" in refused[0]["message"]
    assert receiver.requests == []


def test_duplicate_messages_deliver_an_outcome_once(client, hooks_on, receiver, make_worker):
    from reportsvc.ops import webhooks

    report_id = client.post("/reports", json={"callback_url": receiver.url}).get_json()["id"]
    client.delete(f"/reports/{report_id}")
    for _ in range(3):  # redeliveries of the same outcome
        webhooks.queue_outcome(uuid.UUID(report_id), "CANCELLED", 0)
    make_worker(threads=4)
    wait_for(lambda: receiver.requests, timeout=15)
    time.sleep(1.0)
    assert len(receiver.requests) == 1
    assert len(_events(client, report_id, "webhook_delivered")) == 1


@pytest.mark.parametrize("url", ["ftp://example.com/x", "http://", "not a url", "http://u:p@example.com/",
                                 "http://example.com:99999/"])
def test_bad_callback_url_is_a_422_and_creates_nothing(client, hooks_on, url):
    response = client.post("/reports", json={"callback_url": url})
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "invalid_input"
    assert client.get("/reports").get_json()["items"] == []


def test_callback_url_without_webhook_secret_is_refused(client, settings, base_settings):
    settings(push=replace(base_settings.push, webhook_secret=None))
    response = client.post("/reports", json={"callback_url": "https://example.com/hook"})
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "webhooks_disabled"
    assert client.get("/reports").get_json()["items"] == []


def test_a_schedule_with_a_callback_url_gives_it_to_every_report_it_makes(client, worker, hooks_on, receiver):
    created = client.post("/schedules", json={"name": "nightly", "cron": "0 3 * * *", "callback_url": receiver.url})
    assert created.status_code == 201, created.get_data(as_text=True)
    schedule = created.get_json()
    assert schedule["callback_url"] == receiver.url
    run = client.post(f"/schedules/{schedule['id']}/run")
    assert run.status_code in (200, 201, 202), run.get_data(as_text=True)
    wait_for(lambda: receiver.requests, timeout=20)
    data = json.loads(receiver.requests[0][2])
    assert data["status"] == "READY"
    assert client.get(f"/reports/{data['id']}").get_json()["callback_url"] == receiver.url


def test_a_schedule_callback_url_is_checked_like_a_reports(client, hooks_on, settings, base_settings):
    bad = client.post("/schedules", json={"name": "bad", "cron": "0 3 * * *", "callback_url": "ftp://x/y"})
    assert bad.status_code == 422 and bad.get_json()["error"]["code"] == "invalid_input"
    settings(push=replace(base_settings.push, webhook_secret=None))
    off = client.post("/schedules", json={"name": "off", "cron": "0 3 * * *", "callback_url": "https://example.com/h"})
    assert off.status_code == 422 and off.get_json()["error"]["code"] == "webhooks_disabled"
    assert client.get("/schedules").get_json()["items"] == []
