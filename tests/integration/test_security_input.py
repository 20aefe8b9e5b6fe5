"""Security headers, no inline script, and hostile input turned away with a clear 4xx (issue 6)."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _count(client) -> int:  # type: ignore[no-untyped-def]
    return len(client.get("/reports?limit=200").get_json()["items"])


@pytest.mark.parametrize("url", ["/console/", "/reports", "/login", "/healthz"])
def test_security_headers(client, url):
    response = client.get(url)
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "no-store" in response.headers["Cache-Control"]


def test_no_inline_script_or_style_in_templates_or_static():
    offenders = []
    for path in list((ROOT / "templates").rglob("*.html")):
        text = path.read_text()
        if re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text) or re.search(r"<style\b", text):
            offenders.append(f"{path}: inline <script>/<style>")
        if re.search(r"\sstyle\s*=", text) or re.search(r"\son[a-z]+\s*=", text) or "javascript:" in text:
            offenders.append(f"{path}: style= / on*= / javascript:")
        if "hx-on" in text or "hx-vars" in text or "js:" in text:
            offenders.append(f"{path}: htmx evaluated attribute")
    assert offenders == []


def test_oversized_body_is_413_and_nothing_stored(client):
    before = _count(client)
    response = client.post("/reports", data=b'{"title": "' + b"x" * 70_000 + b'"}', content_type="application/json")
    assert response.status_code == 413 and response.get_json()["error"]["code"] == "payload_too_large"
    assert _count(client) == before


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"])
def test_wrong_content_type_is_415(client, content_type):
    before = _count(client)
    response = client.post("/reports", data="title=x", content_type=content_type)
    assert response.status_code == 415 and _count(client) == before


@pytest.mark.parametrize(("raw", "code"), [("not-a-uuid", "invalid_id"), ("%00", "invalid_input"),
                                           ("1' OR '1'='1", "invalid_id"), ("é" * 300, "invalid_id")])
def test_non_uuid_ids_are_400(client, raw, code):
    for method, suffix in (("GET", ""), ("GET", "/status"), ("GET", "/download"), ("DELETE", ""),
                           ("POST", "/retry")):
        response = client.open(f"/reports/{raw}{suffix}", method=method)
        assert response.status_code == 400, (method, suffix, response.status_code)
        assert response.get_json()["error"]["code"] == code
        assert "Traceback" not in response.get_data(as_text=True)


def test_encoded_path_traversal_in_an_id_is_404_not_found(client):
    for method, suffix in (("GET", ""), ("GET", "/status"), ("GET", "/download"), ("DELETE", ""),
                           ("POST", "/retry")):
        response = client.open(f"/reports/..%2F..%2Fetc%2Fpasswd{suffix}", method=method)
        assert response.status_code == 404, (method, suffix, response.status_code)
        assert response.get_json()["error"]["code"] == "not_found"
        assert "root:" not in response.get_data(as_text=True)


FIELDS = ("title", "notify_email", "report_type")


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("value", ["x" * 10_000, "bad\x00nul", "bell\x07", "\ud800lone surrogate", "\u202e" * 300])
def test_hostile_text_in_every_field_is_a_clear_4xx(client, field, value):
    before = _count(client)
    response = client.post("/reports", json={field: value})
    assert response.status_code in (400, 422), (field, repr(value[:10]), response.status_code)
    error = response.get_json()["error"]
    assert field in error["message"] or any(field in d["field"] for d in error.get("details", []))
    assert _count(client) == before


def test_hostile_text_in_params_and_query_strings(client):
    before = _count(client)
    r = client.post("/reports", json={"params": {"window_hours": "24\x00"}})
    assert r.status_code == 422 and "params" in r.get_json()["error"]["message"]
    r = client.post("/reports", json={"params": {"k\x00": 1}})
    assert r.status_code == 422
    assert _count(client) == before
    for url in ("/reports?q=%00", "/reports?q=" + "x" * 5000, "/reports?status=%00", "/audit?actor=%00",
                "/reports?cursor=%ED%A0%80", "/reports?limit=99999999999999999999"):
        response = client.get(url)
        assert response.status_code == 400, (url, response.status_code)
        assert response.get_json()["error"]["code"] in ("invalid_input", "invalid_filter", "invalid_cursor")


def test_unicode_is_welcome_and_stored_exactly(client):
    title = "Überblick 📈 — 週報 عربى"
    response = client.post("/reports", json={"title": title})
    assert response.status_code == 202
    assert client.get(f"/reports/{response.get_json()['id']}").get_json()["title"] == title


def test_console_form_rejects_control_characters(client):
    before = _count(client)
    response = client.post("/console/reports", data={"report_type": "operations", "title": "a\x00b"})
    assert response.status_code in (400, 422) and _count(client) == before


def test_download_never_leaves_the_storage_dir(app, client, tmp_path):
    from sqlalchemy import text

    from reportsvc.extensions import db

    secret = tmp_path / "secret.pdf"
    secret.write_bytes(b"%PDF-secret")
    report_id = uuid.uuid4()
    with app.app_context():
        db.session.execute(text("INSERT INTO report_requests (id, status, progress, file_path) "
                                "VALUES (:id, 'READY', 100, :path)"),
                           {"id": report_id, "path": f"../../../../../../../../{secret}"})
        db.session.commit()
    for url in (f"/reports/{report_id}/download", f"/console/reports/{report_id}/download"):
        response = client.get(url)
        assert response.status_code == 410, (url, response.status_code)
        assert b"secret" not in response.data


def test_errors_never_show_a_stack_trace(client):
    response = client.get("/reports?limit=abc")
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert "Traceback" not in text and "sqlalchemy" not in text.lower()
