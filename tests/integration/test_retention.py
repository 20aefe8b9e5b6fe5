"""Retention: old PDFs, finished reports and audit rows are deleted in batches; nothing else ever is."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from reportsvc.config import ConfigError, load_settings

PDF = b"%PDF-1.4 retention test\n%%EOF\n"


def _storage_dir(app) -> Path:  # type: ignore[no-untyped-def]
    return Path(app.extensions["reportsvc.settings"].storage_dir)


def _report(app, status: str, age_days: float = 0) -> uuid.UUID:  # type: ignore[no-untyped-def]
    """A report driven through the lifecycle to `status` (READY with a real file), then aged by UPDATE."""
    from reportsvc.state import lifecycle
    from reportsvc.state.storage import LocalStorage

    with app.app_context():
        rid = lifecycle.create(report_type="operations", title=f"{status} {age_days}d", params={},
                               notify_email=None, requested_by="tester").id
        if status in ("RUNNING", "READY", "FAILED"):
            claim = lifecycle.claim(rid, worker="test:1", message_id=None)
            assert claim is not None
            if status == "READY":
                storage, key = LocalStorage(_storage_dir(app)), f"{rid}.pdf"  # the key form rows had before runs
                assert lifecycle.finish(rid, claim.run_id, publish=lambda: (key, storage.save(key, PDF)))
            elif status == "FAILED":
                lifecycle.fail_attempt(rid, claim.run_id, error="boom", traceback_text=None, retry_in_ms=None)
        elif status == "CANCELLED":
            assert lifecycle.cancel(rid, actor="tester").ok
    _age(app, rid, age_days)
    return rid


def _age(app, rid: uuid.UUID, days: float, *, force_finished: bool = False) -> None:  # type: ignore[no-untyped-def]
    """Move the report's timestamps `days` into the past (finished_at only where it is set, unless forced)."""
    from reportsvc.extensions import db

    with app.app_context():
        db.session.execute(text(
            "UPDATE report_requests SET created_at = now() - make_interval(secs => :s),"
            " updated_at = now() - make_interval(secs => :s),"
            " started_at = CASE WHEN started_at IS NULL THEN NULL ELSE now() - make_interval(secs => :s) END,"
            " heartbeat_at = CASE WHEN heartbeat_at IS NULL THEN NULL ELSE now() - make_interval(secs => :s) END,"
            " finished_at = CASE WHEN finished_at IS NULL AND NOT :force THEN NULL"
            "  ELSE now() - make_interval(secs => :s) END"
            " WHERE id = :id"), {"s": days * 86400, "id": rid, "force": force_finished})
        db.session.commit()


def _row(app, rid: uuid.UUID) -> Any:  # type: ignore[no-untyped-def]
    from reportsvc.extensions import db

    with app.app_context():
        row = db.session.execute(text("SELECT * FROM report_requests WHERE id = :id"), {"id": rid}).first()
        db.session.rollback()
        return row


def _events(app, rid: uuid.UUID, kind: str | None = None) -> int:  # type: ignore[no-untyped-def]
    from reportsvc.extensions import db

    with app.app_context():
        n = db.session.execute(text("SELECT count(*) FROM report_events WHERE report_id = :id"
                                    " AND (CAST(:kind AS text) IS NULL OR kind = :kind)"),
                               {"id": rid, "kind": kind}).scalar_one()
        db.session.rollback()
        return int(n)


def _audit_count(app) -> int:  # type: ignore[no-untyped-def]
    from reportsvc.extensions import db

    with app.app_context():
        n = db.session.execute(text("SELECT count(*) FROM audit_log")).scalar_one()
        db.session.rollback()
        return int(n)


def _file(app, rid: uuid.UUID) -> Path:  # type: ignore[no-untyped-def]
    return _storage_dir(app) / f"{rid}.pdf"


def _purge(app, new_settings, **kwargs: Any):  # type: ignore[no-untyped-def]
    from reportsvc.ops import retention

    with app.app_context():
        return retention.purge(new_settings, **kwargs)


def test_old_pdf_is_deleted_and_the_row_says_its_file_expired(app, client, settings) -> None:  # type: ignore[no-untyped-def]
    old, young = _report(app, "READY", age_days=40), _report(app, "READY", age_days=5)
    result = _purge(app, settings(retention_pdf_days=30))
    assert (result.files, result.reports, result.audit_rows, result.file_errors) == (1, 0, 0, 0)
    assert "deleted 1 PDF files, 0 reports" in result.summary()

    row = _row(app, old)
    assert row.status == "READY" and row.file_path is None and row.file_expired_at is not None
    assert row.file_size == len(PDF)  # what there was stays on record
    assert not _file(app, old).exists()
    assert _events(app, old, "file_expired") == 1
    body = client.get(f"/reports/{old}").get_json()
    expired = [e for e in body["events"] if e["kind"] == "file_expired"]
    assert expired[0]["detail"]["file_path"] == f"{old}.pdf" and "RETENTION_PDF_DAYS=30" in expired[0]["message"]
    assert body["file_expired_at"] and body["download_url"] is None
    assert client.get(f"/reports/{old}/status").get_json()["download_url"] is None

    young_row = _row(app, young)
    assert young_row.file_path == f"{young}.pdf" and young_row.file_expired_at is None
    assert _file(app, young).read_bytes() == PDF and _events(app, young, "file_expired") == 0
    assert client.get(f"/reports/{young}/status").get_json()["download_url"] == f"/reports/{young}/download"


def test_download_of_an_expired_pdf_is_410_gone(app, client, viewer_client, settings) -> None:  # type: ignore[no-untyped-def]
    old, young = _report(app, "READY", age_days=40), _report(app, "READY", age_days=1)
    _purge(app, settings(retention_pdf_days=30))
    for who in (client, viewer_client):
        response = who.get(f"/reports/{old}/download")
        assert response.status_code == 410
        error = response.get_json()["error"]
        assert error["code"] == "file_expired" and "retention" in error["message"]
    ok = client.get(f"/reports/{young}/download")
    assert ok.status_code == 200 and ok.data == PDF


def test_console_shows_that_the_pdf_was_deleted(app, client, settings) -> None:  # type: ignore[no-untyped-def]
    old = _report(app, "READY", age_days=40)
    _purge(app, settings(retention_pdf_days=30))
    html = client.get(f"/console/reports/{old}").get_data(as_text=True)
    assert 'id="file-expired"' in html and "by the retention policy" in html
    assert f'href="/console/reports/{old}/download"' not in html
    assert "PDF deleted (retention)" in html  # the timeline entry
    listing = client.get("/console/").get_data(as_text=True)
    assert f"expired-row-{old}" in listing and f"download-row-{old}" not in listing
    page = client.get(f"/console/reports/{old}/download")
    assert page.status_code == 410 and "retention policy" in page.get_data(as_text=True)


@pytest.mark.parametrize("status", ["PENDING", "RUNNING"])
def test_pending_and_running_reports_are_never_touched_whatever_their_age(app, settings, status) -> None:  # type: ignore[no-untyped-def]
    from reportsvc.extensions import db

    rid = _report(app, status)
    # Worst case: an ancient row that even has a finished_at and names a file (neither happens normally).
    _file(app, rid).write_bytes(PDF)
    with app.app_context():
        db.session.execute(text("UPDATE report_requests SET file_path = :key WHERE id = :id"),
                           {"key": f"{rid}.pdf", "id": rid})
        db.session.commit()
    _age(app, rid, 3650, force_finished=True)
    before = _events(app, rid)
    result = _purge(app, settings(retention_pdf_days=1, retention_report_days=1, retention_audit_days=1))
    assert (result.files, result.reports) == (0, 0)
    row = _row(app, rid)
    assert row.status == status and row.file_path == f"{rid}.pdf" and row.file_expired_at is None
    assert _file(app, rid).exists() and _events(app, rid) == before


def test_old_finished_reports_are_deleted_with_their_events_and_files(app, client, settings) -> None:  # type: ignore[no-untyped-def]
    old = {s: _report(app, s, age_days=100) for s in ("READY", "FAILED", "CANCELLED")}
    young = {s: _report(app, s, age_days=10) for s in ("READY", "FAILED", "CANCELLED")}
    events_of_old = sum(_events(app, rid) for rid in old.values())
    result = _purge(app, settings(retention_report_days=90))
    assert (result.reports, result.files) == (3, 1)
    # Each deleted READY report gained a 'file_expired' event before it went; it is counted with the rest.
    assert result.events == events_of_old + 1
    for rid in old.values():
        assert _row(app, rid) is None and _events(app, rid) == 0
        assert client.get(f"/reports/{rid}").status_code == 404
    assert not _file(app, old["READY"]).exists()
    for status, rid in young.items():
        assert _row(app, rid).status == status
    assert _file(app, young["READY"]).exists()


def test_pdf_and_report_retention_together(app, settings, client) -> None:  # type: ignore[no-untyped-def]
    from tests.integration.test_metrics import scrape, value

    ancient, old, young = (_report(app, "READY", age_days=d) for d in (100, 40, 5))
    result = _purge(app, settings(retention_pdf_days=30, retention_report_days=90))
    assert (result.files, result.reports) == (2, 1)
    samples = scrape(client)
    assert value(samples, "reportsvc_retention_files_deleted_total") == 2
    assert value(samples, "reportsvc_retention_reports_deleted_total") == 1
    assert _row(app, ancient) is None
    assert _row(app, old).file_expired_at is not None and _row(app, old).status == "READY"
    assert _row(app, young).file_expired_at is None and _file(app, young).exists()


def test_old_audit_rows_are_deleted_and_the_purge_is_audited(app, settings) -> None:  # type: ignore[no-untyped-def]
    from reportsvc.extensions import db
    from reportsvc.state import audit

    with app.app_context():
        old_ids = [audit.record("alice", "report.cancel", f"report:{n}", "ok") for n in range(3)]
        young_id = audit.record("alice", "report.retry", "report:x", "ok")
        db.session.execute(text("UPDATE audit_log SET created_at = now() - interval '20 days' WHERE id = ANY(:ids)"),
                           {"ids": old_ids})
        db.session.commit()
    result = _purge(app, settings(retention_audit_days=10))
    assert result.audit_rows == 3
    with app.app_context():
        rows = db.session.execute(text("SELECT id, actor, action, detail FROM audit_log ORDER BY id")).all()
        db.session.rollback()
    assert [r.id for r in rows][0] == young_id and not set(old_ids) & {r.id for r in rows}
    purge_row = rows[-1]
    assert (purge_row.actor, purge_row.action) == ("retention", "retention.purge")
    assert purge_row.detail["audit_rows"] == 3 and "audit rows: 10 days" in purge_row.detail["policy"]


def test_dry_run_counts_and_changes_nothing(app, settings) -> None:  # type: ignore[no-untyped-def]
    from reportsvc.extensions import db
    from reportsvc.state import audit

    ancient, old = _report(app, "READY", age_days=100), _report(app, "READY", age_days=40)
    failed = _report(app, "FAILED", age_days=100)
    with app.app_context():
        audit.record("alice", "x", None, "ok")
        db.session.execute(text("UPDATE audit_log SET created_at = now() - interval '400 days'"))
        db.session.commit()
    events = _events(app, ancient) + _events(app, failed)
    new = settings(retention_pdf_days=30, retention_report_days=90, retention_audit_days=365)
    result = _purge(app, new, dry_run=True)
    assert result.dry_run and (result.files, result.reports, result.events, result.audit_rows) == (2, 2, events, 1)
    assert result.summary().startswith("would delete 2 PDF files, 2 reports")
    for rid in (ancient, old):
        assert _row(app, rid).file_path == f"{rid}.pdf" and _file(app, rid).exists()
    assert _row(app, failed) is not None and _audit_count(app) == 1


def test_small_batches_still_get_everything(app, settings) -> None:  # type: ignore[no-untyped-def]
    from reportsvc.extensions import db
    from reportsvc.state import audit

    files = [_report(app, "READY", age_days=40) for _ in range(5)]
    reports = [_report(app, "CANCELLED", age_days=400) for _ in range(5)]
    with app.app_context():
        for n in range(5):
            audit.record("alice", "x", str(n), "ok")
        db.session.execute(text("UPDATE audit_log SET created_at = now() - interval '400 days'"))
        db.session.commit()
    # Same finished_at for all five: the keyset (finished_at, id) must not lose ties at a batch boundary.
    with app.app_context():
        db.session.execute(text("UPDATE report_requests SET finished_at = now() - interval '40 days'"
                                " WHERE id = ANY(:ids)"), {"ids": files})
        db.session.commit()
    result = _purge(app, settings(retention_pdf_days=30, retention_report_days=365, retention_audit_days=365),
                    batch_size=2)
    assert (result.files, result.reports, result.audit_rows) == (5, 5, 5)
    assert all(_row(app, rid).file_expired_at is not None for rid in files)
    assert all(_row(app, rid) is None for rid in reports)
    assert not list(_storage_dir(app).glob("*.pdf"))


def test_zero_keeps_everything_and_schedules_nothing(app, settings) -> None:  # type: ignore[no-untyped-def]
    from reportsvc.ops.scheduler import build_scheduler

    rid = _report(app, "READY", age_days=10_000)
    off = settings()
    assert not off.retention_enabled
    result = _purge(app, off)
    assert not result.deleted_anything and _file(app, rid).exists() and _audit_count(app) == 0
    assert "retention" not in {job.id for job in build_scheduler(app, off).get_jobs()}
    on = settings(retention_audit_days=30, retention_interval_seconds=120)
    job = build_scheduler(app, on).get_job("retention")
    assert job is not None and job.trigger.interval.total_seconds() == 120


def test_a_run_that_died_after_marking_is_finished_by_the_next(app, client, settings) -> None:  # type: ignore[no-untyped-def]
    from reportsvc.state import lifecycle

    rid = _report(app, "READY", age_days=40)
    with app.app_context():  # step 1 of a purge that then crashed: marked, file still there
        assert lifecycle.expire_files([rid], reason="test") == {rid: f"{rid}.pdf"}
        assert lifecycle.expire_files([rid], reason="again") == {}  # conditional: marks once
    assert client.get(f"/reports/{rid}/download").status_code == 410  # the row already says so
    assert _file(app, rid).exists()
    result = _purge(app, settings(retention_pdf_days=30))
    assert result.files == 1 and not _file(app, rid).exists() and _row(app, rid).file_path is None
    assert _events(app, rid, "file_expired") == 1


def test_a_file_that_cannot_be_deleted_keeps_its_row_for_the_next_run(app, settings, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from reportsvc.state.storage import LocalStorage

    rid = _report(app, "READY", age_days=100)

    def refuse(self: Any, key: str) -> bool:
        raise PermissionError("read-only file system")

    monkeypatch.setattr(LocalStorage, "delete", refuse)
    result = _purge(app, settings(retention_report_days=90))
    assert (result.files, result.reports, result.file_errors) == (0, 0, 1)
    row = _row(app, rid)
    assert row.file_path == f"{rid}.pdf" and row.file_expired_at is not None  # says expired, still names it
    monkeypatch.undo()
    result = _purge(app, settings(retention_report_days=90))
    assert (result.files, result.reports) == (1, 1) and _row(app, rid) is None and not _file(app, rid).exists()


def test_two_purgers_at_once_split_the_work(app, settings) -> None:  # type: ignore[no-untyped-def]
    from reportsvc.ops import retention

    ids = [_report(app, "READY", age_days=40) for _ in range(12)]
    new = settings(retention_pdf_days=30)
    results: list[Any] = []
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def run() -> None:
        try:
            with app.app_context():
                start.wait()
                results.append(retention.purge(new, batch_size=1))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    # Every file deleted exactly once (one event each) and counted by exactly one of the two.
    assert len(results) == 2 and sum(r.files for r in results) == 12
    assert _purge(app, new).files == 0
    assert all(_events(app, rid, "file_expired") == 1 and not _file(app, rid).exists() for rid in ids)


def test_scheduled_run_takes_the_schedulers_lock(app, settings, redis_client) -> None:  # type: ignore[no-untyped-def]
    from reportsvc.ops import sweeper
    from reportsvc.ops.scheduler import run_retention

    _report(app, "READY", age_days=40)
    new = settings(retention_pdf_days=30)
    with app.app_context(), sweeper.redis_lock(redis_client, "retention", ttl_ms=10_000) as held:
        assert held
        assert "another scheduler holds the lock" in run_retention(redis_client, new)
    with app.app_context():
        line = run_retention(redis_client, new)
    assert line.startswith("deleted 1 PDF files, 0 reports (0 timeline events), 0 audit rows in ")


def test_cli_purge_prints_what_would_be_and_was_deleted(app, settings) -> None:  # type: ignore[no-untyped-def]
    rid = _report(app, "READY", age_days=40)
    runner = app.test_cli_runner()
    settings()
    off = runner.invoke(args=["purge"])
    assert off.exit_code == 0 and "retention is off" in off.output
    settings(retention_pdf_days=30)
    dry = runner.invoke(args=["purge", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "PDFs: 30 days, reports: kept forever, audit rows: kept forever" in dry.output
    assert "would delete 1 PDF files, 0 reports (0 timeline events), 0 audit rows" in dry.output
    assert _file(app, rid).exists()
    real = runner.invoke(args=["purge"])
    assert real.exit_code == 0, real.output
    assert "deleted 1 PDF files" in real.output and not _file(app, rid).exists()
    assert "deleted 0 PDF files" in runner.invoke(args=["purge"]).output


@pytest.mark.parametrize(("env", "needle"), [
    ({"RETENTION_PDF_DAYS": "thirty"}, "RETENTION_PDF_DAYS='thirty' is not a whole number"),
    ({"RETENTION_REPORT_DAYS": "-1"}, "RETENTION_REPORT_DAYS=-1 is out of range"),
    ({"RETENTION_AUDIT_DAYS": "1.5"}, "RETENTION_AUDIT_DAYS='1.5' is not a whole number"),
    ({"RETENTION_INTERVAL_SECONDS": "0"}, "RETENTION_INTERVAL_SECONDS=0.0 is out of range"),
    ({"RETENTION_PDF_DAYS": "30", "RETENTION_REPORT_DAYS": "7"},
     "RETENTION_REPORT_DAYS=7 must be at least RETENTION_PDF_DAYS=30"),
])
def test_bad_retention_settings_are_refused_by_name(env, needle) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError) as info:
        load_settings(env)
    assert needle in str(info.value)


def test_retention_settings_default_to_keep_forever() -> None:
    s = load_settings({})
    assert (s.retention_pdf_days, s.retention_report_days, s.retention_audit_days) == (0, 0, 0)
    assert s.retention_interval_seconds == 3600 and not s.retention_enabled
    # Report retention alone, or PDF retention alone, or equal periods are all fine.
    assert load_settings({"RETENTION_REPORT_DAYS": "7"}).retention_enabled
    assert load_settings({"RETENTION_PDF_DAYS": "30"}).retention_report_days == 0
    assert load_settings({"RETENTION_PDF_DAYS": "30", "RETENTION_REPORT_DAYS": "30"}).retention_enabled
