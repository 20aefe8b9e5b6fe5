"""End to end through the API with a real worker, PostgreSQL and Redis."""

from __future__ import annotations

import hashlib
import io

from tests.conftest import wait_status
from tests.pdf import read_pdf


def test_seed_curl_flow_produces_a_pdf(client, worker):
    response = client.post("/reports")
    assert response.status_code == 202
    body = response.get_json()
    assert body["status"] == "PENDING" and body["message"] == "Report generation started"
    assert response.headers["Location"].endswith(f"/reports/{body['id']}")

    final = wait_status(client, body["id"], {"READY", "FAILED"})
    assert final["status"] == "READY", final
    assert final["progress"] == 100

    download = client.get(f"/reports/{body['id']}/download")
    assert download.status_code == 200
    assert download.mimetype == "application/pdf"
    assert f"report-{body['id']}.pdf" in download.headers["Content-Disposition"]
    pages, text = read_pdf(download.data)
    assert pages >= 1 and "Operations summary" in text and "At a glance" in text

    refused = client.delete(f"/reports/{body['id']}")
    assert refused.status_code == 409
    assert refused.get_json()["error"]["code"] == "conflict"

    full = client.get(f"/reports/{body['id']}").get_json()
    kinds = [e["kind"] for e in full["events"]]
    assert kinds[0] == "created" and "claimed" in kinds and kinds[-1] in ("completed", "email_skipped")
    assert full["file_size"] == len(download.data)
    assert full["file_sha256"] == hashlib.sha256(download.data).hexdigest()
    assert full["message_id"]


def test_download_before_ready_is_409(client):
    report_id = client.post("/reports").get_json()["id"]
    response = client.get(f"/reports/{report_id}/download")
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "not_ready"


def test_cancel_pending_removes_it_and_repeat_is_200(client, redis_client):
    report_id = client.post("/reports").get_json()["id"]
    first = client.delete(f"/reports/{report_id}")
    assert first.status_code == 200 and first.get_json() == {"id": report_id, "status": "CANCELLED"}
    again = client.delete(f"/reports/{report_id}")
    assert again.status_code == 200
    assert redis_client.llen("dramatiq:reports") == 0
    assert client.get(f"/reports/{report_id}/status").get_json()["status"] == "CANCELLED"


def test_worker_skips_a_cancelled_report(client, make_worker, app):
    from reportsvc.tasks import generate_report

    report_id = client.post("/reports").get_json()["id"]
    client.delete(f"/reports/{report_id}")
    generate_report.send(report_id)  # a duplicate message arriving late
    make_worker().join()
    assert client.get(f"/reports/{report_id}/status").get_json()["status"] == "CANCELLED"


def test_pdf_is_a_real_document(client, worker):
    report_id = client.post("/reports", json={"title": "Weekly ops", "params": {"window_hours": 168}}).get_json()["id"]
    wait_status(client, report_id, {"READY"})
    data = client.get(f"/reports/{report_id}/download").data
    assert data.count(b"/Type /Page") >= 1 or b"/Type/Page" in data
    assert len(io.BytesIO(data).getvalue()) > 2000
