"""`flask --app app storage copy --to s3|local`: a dry run writes nothing, a run copies every READY report's
PDF under the same key (so switching STORAGE_BACKEND points the rows at it), a second run copies nothing, and
the reports download byte-identical from the other backend."""

from __future__ import annotations

import hashlib
from dataclasses import replace

from tests.conftest import wait_status


def _invoke(app, *args: str):  # type: ignore[no-untyped-def]
    return app.test_cli_runner().invoke(args=["storage", "copy", *args])


def test_copy_to_s3_and_back_is_resumable_idempotent_and_keeps_every_report_downloadable(
        app, client, settings, s3_storage, worker, tmp_path):
    from reportsvc.state.storage import storage_for

    local = settings(storage=replace(s3_storage.storage, backend="local"))  # S3_* set, the disk in use
    ids = [client.post("/reports").get_json()["id"] for _ in range(3)]
    bodies = {}
    for rid in ids:
        assert wait_status(client, rid, {"READY", "FAILED"})["status"] == "READY"
        bodies[rid] = client.get(f"/reports/{rid}/download").data
    s3 = storage_for(replace(local, storage=s3_storage.storage))

    dry = _invoke(app, "--to", "s3", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "would copy 3, already there 0" in dry.output
    assert not list(s3.listing()), "a dry run writes nothing"

    first = _invoke(app, "--to", "s3")
    assert first.exit_code == 0 and "copied 3, already there 0" in first.output, first.output
    again = _invoke(app, "--to", "s3")
    assert again.exit_code == 0 and "copied 0, already there 3" in again.output, again.output

    settings(storage=s3_storage.storage)  # STORAGE_BACKEND=s3: the same rows now read from the bucket
    for rid in ids:
        response = client.get(f"/reports/{rid}/download")
        assert response.status_code == 200 and response.data == bodies[rid]
        assert hashlib.sha256(response.data).hexdigest() == client.get(f"/reports/{rid}").get_json()["file_sha256"]

    back = settings(storage=s3_storage.storage, storage_dir=tmp_path / "fresh-disk")
    result = _invoke(app, "--to", "local")
    assert result.exit_code == 0 and "copied 3" in result.output, result.output
    settings(storage=replace(s3_storage.storage, backend="local"), storage_dir=back.storage_dir)
    for rid in ids:
        assert client.get(f"/reports/{rid}/download").data == bodies[rid]


def test_copy_to_s3_without_a_bucket_is_refused_and_copies_nothing(app, settings):
    result = _invoke(app, "--to", "s3")
    assert result.exit_code != 0 and "S3_BUCKET" in result.output
