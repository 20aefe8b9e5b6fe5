"""Retention: delete old PDFs, finished reports (with their timelines) and audit rows.

Off by default: RETENTION_PDF_DAYS, RETENTION_REPORT_DAYS and RETENTION_AUDIT_DAYS are 0 (keep
forever) until an operator opts in. The scheduler runs `purge` every RETENTION_INTERVAL_SECONDS;
`flask --app app purge [--dry-run]` runs it by hand.

Cheap at a million rows: every phase walks an index oldest first in batches of `batch_size` rows,
one short transaction each, so no run holds many locks or a long transaction. PENDING and RUNNING
reports are never selected (only READY/FAILED/CANCELLED with a finished_at). Rows are locked with
FOR UPDATE SKIP LOCKED, so two purgers (two schedulers, or the CLI beside one) split the work
instead of waiting on each other, and every write is conditional, so racing ones never double-count.

Crash ordering for files: (1) the row is marked expired in the database (lifecycle.expire_files,
with its 'file_expired' event) and committed, (2) the file is deleted, (3) the row stops naming
it (lifecycle.forget_expired_files), (4) for a report past RETENTION_REPORT_DAYS, the row is
deleted, which only happens once it names no file. A crash after (1) leaves a row that says
"expired" and still names its file; the next run picks it up and finishes (2)-(4). So there is
never a row pointing at a missing file without saying so, and never an unreferenced file.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import text

from reportsvc import metrics
from reportsvc.config import Settings
from reportsvc.extensions import db
from reportsvc.state import audit, lifecycle
from reportsvc.state.storage import Storage, StorageError, StorageUnavailable, storage_for

log = logging.getLogger("reportsvc.ops.retention")

_T = TypeVar("_T")

#: Rows per transaction: small enough to keep each lock set and transaction short.
BATCH = 500
#: Keyset start: earlier than any finished_at.
_START = (datetime(1, 1, 1, tzinfo=UTC), uuid.UUID(int=0))

# Candidates, oldest first. Both walk an index range: the partial index of rows that still name a
# file (ix_report_requests_file_finished) and ix_report_requests_finished_at. The keyset on
# (finished_at, id) means a row skipped in this run (locked by someone else) is never re-read in a loop.
_FILE_CANDIDATES = text(
    "SELECT id, file_path, finished_at, file_expired_at IS NOT NULL AS marked FROM report_requests"
    " WHERE status = 'READY' AND file_path IS NOT NULL AND finished_at < :cutoff"
    " AND (finished_at, id) > (:after_ts, :after_id)"
    " ORDER BY finished_at, id LIMIT :batch"
)
_REPORT_CANDIDATES = text(
    "SELECT id, file_path, finished_at, file_expired_at IS NOT NULL AS marked FROM report_requests"
    " WHERE status IN ('READY', 'FAILED', 'CANCELLED') AND finished_at < :cutoff"
    " AND (finished_at, id) > (:after_ts, :after_id)"
    " ORDER BY finished_at, id LIMIT :batch"
)

# Deleting a row writes no status, so it lives here rather than in lifecycle; it is conditional all the
# same: still finished, still old, and naming no file (its file went first, see the module docstring).
# The events are deleted explicitly to count them; ON DELETE CASCADE still catches any that commit late.
_DELETE_REPORTS = text(
    "WITH picked AS ("
    " SELECT id FROM report_requests"
    " WHERE id = ANY(:ids) AND status IN ('READY', 'FAILED', 'CANCELLED') AND finished_at < :cutoff"
    " AND file_path IS NULL"
    " FOR UPDATE SKIP LOCKED"
    "), ev AS ("
    " DELETE FROM report_events WHERE report_id IN (SELECT id FROM picked) RETURNING 1"
    "), gone AS ("
    " DELETE FROM report_requests WHERE id IN (SELECT id FROM picked) RETURNING 1"
    ")"
    " SELECT (SELECT count(*) FROM gone) AS reports, (SELECT count(*) FROM ev) AS events"
)

# ix_audit_log_created_id read backwards; SKIP LOCKED so two purgers take different rows.
_DELETE_AUDIT = text(
    "DELETE FROM audit_log WHERE id IN ("
    " SELECT id FROM audit_log WHERE created_at < :cutoff ORDER BY created_at LIMIT :batch"
    " FOR UPDATE SKIP LOCKED"
    ")"
)

_COUNT_FILES = text(
    "SELECT count(*) FROM report_requests WHERE status = 'READY' AND file_path IS NOT NULL AND finished_at < :cutoff"
)
_COUNT_REPORTS = text(
    "SELECT (SELECT count(*) FROM report_requests"
    "  WHERE status IN ('READY', 'FAILED', 'CANCELLED') AND finished_at < :cutoff) AS reports,"
    " (SELECT count(*) FROM report_events e JOIN report_requests r ON r.id = e.report_id"
    "  WHERE r.status IN ('READY', 'FAILED', 'CANCELLED') AND r.finished_at < :cutoff) AS events"
)
_COUNT_AUDIT = text("SELECT count(*) FROM audit_log WHERE created_at < :cutoff")


@dataclass(frozen=True)
class Cutoffs:
    """What is old enough to delete: finished (or, for audit rows, written) before these instants."""

    pdf: datetime | None
    report: datetime | None
    audit: datetime | None

    @property
    def files(self) -> datetime | None:
        """Files go at the PDF cutoff, or with their report when only report retention is on."""
        return self.pdf or self.report


@dataclass
class PurgeResult:
    """What one purge deleted (or, in a dry run, would delete)."""

    dry_run: bool = False
    files: int = 0
    reports: int = 0
    events: int = 0
    audit_rows: int = 0
    file_errors: int = 0
    seconds: float = 0.0

    @property
    def deleted_anything(self) -> bool:
        """Whether any file or row went (or would go)."""
        return bool(self.files or self.reports or self.audit_rows)

    def summary(self) -> str:
        """One log-friendly line with the counts."""
        verb = "would delete" if self.dry_run else "deleted"
        line = (f"{verb} {self.files} PDF files, {self.reports} reports ({self.events} timeline events), "
                f"{self.audit_rows} audit rows")
        if self.file_errors:
            line += f"; {self.file_errors} files could not be deleted (kept for the next run)"
        return line + ("" if self.dry_run else f" in {self.seconds:.1f} s")


def cutoffs(settings: Settings, now: datetime) -> Cutoffs:
    """The instants before which each kind of data is deleted (None: kept forever)."""

    def before(days: int) -> datetime | None:
        return now - timedelta(days=days) if days > 0 else None

    return Cutoffs(before(settings.retention_pdf_days), before(settings.retention_report_days),
                   before(settings.retention_audit_days))


def describe(settings: Settings) -> str:
    """The retention policy in words, for logs and the CLI."""

    def days(n: int) -> str:
        return f"{n} days" if n else "kept forever"

    return (f"PDFs: {days(settings.retention_pdf_days)}, reports: {days(settings.retention_report_days)}, "
            f"audit rows: {days(settings.retention_audit_days)}")


def purge(settings: Settings, now: datetime | None = None, batch_size: int = BATCH, dry_run: bool = False,
          actor: str = "retention") -> PurgeResult:
    """Delete what the retention settings say is old, in batches; a dry run only counts it."""
    limits = cutoffs(settings, now or datetime.now(UTC))
    if dry_run:
        return _count(limits)
    started = time.monotonic()
    result = PurgeResult()
    storage = storage_for(settings)
    # Reports first: their files would otherwise be expired (an UPDATE and an event each) only to be deleted.
    if limits.report is not None:
        _purge_reports(limits.report, settings.retention_report_days, storage, batch_size, result)
    if limits.pdf is not None:
        _purge_files(limits.pdf, settings.retention_pdf_days, storage, batch_size, result)
    if limits.audit is not None:
        result.audit_rows = _purge_audit(limits.audit, batch_size)
    result.seconds = time.monotonic() - started
    for name, amount in (("retention_files_deleted_total", result.files),
                         ("retention_reports_deleted_total", result.reports),
                         ("retention_audit_rows_deleted_total", result.audit_rows)):
        if amount:
            metrics.inc(name, amount=amount)
    if result.deleted_anything:
        # The product promises nothing is lost silently: the audit trail says what retention removed.
        audit.record(actor, "retention.purge", None, "ok", {**asdict(result), "policy": describe(settings)})
    return result


def _purge_files(cutoff: datetime, days: int, storage: Storage, batch_size: int, result: PurgeResult) -> None:
    """Expire the PDFs of READY reports finished before the cutoff; the rows stay."""
    reason = f"PDF deleted by retention (RETENTION_PDF_DAYS={days})"
    for rows in _batches(_FILE_CANDIDATES, cutoff, batch_size):
        _drop_files(rows, storage, reason, days, result)


def _purge_reports(cutoff: datetime, days: int, storage: Storage, batch_size: int, result: PurgeResult) -> None:
    """Delete finished reports that finished before the cutoff: file first, then row and timeline."""
    reason = f"report deleted by retention (RETENTION_REPORT_DAYS={days})"
    for rows in _batches(_REPORT_CANDIDATES, cutoff, batch_size):
        with_file = [row for row in rows if row.file_path]
        if with_file:
            _drop_files(with_file, storage, reason, days, result)
        reports, events = _write(_DELETE_REPORTS, {"ids": [row.id for row in rows], "cutoff": cutoff},
                                 lambda found: found.one())
        result.reports += int(reports)
        result.events += int(events)


def _write(statement: Any, params: dict[str, Any], fetch: Callable[[Any], _T]) -> _T:
    """Run one write statement in its own transaction; what `fetch` read from its result before the commit."""
    session = db.session()
    try:
        value = fetch(session.execute(statement, params))
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return value


def _batches(query: Any, cutoff: datetime, batch_size: int) -> Iterator[list[Any]]:
    """Yield candidate rows oldest first, batch by batch, each read in its own short transaction."""
    after = _START
    while True:
        rows = db.session.execute(query, {"cutoff": cutoff, "after_ts": after[0], "after_id": after[1],
                                          "batch": batch_size}).all()
        db.session.rollback()
        if not rows:
            return
        yield list(rows)
        if len(rows) < batch_size:
            return
        after = (rows[-1].finished_at, rows[-1].id)


def _drop_files(rows: list[Any], storage: Storage, reason: str, days: int, result: PurgeResult) -> None:
    """Mark expired, delete the files, then stop naming them (see the module docstring for why this order)."""
    keys = lifecycle.expire_files([row.id for row in rows if not row.marked], reason=reason,
                                  detail={"retention_days": days})
    # Marked by an earlier run that died before deleting the file: finish its work.
    keys.update({row.id: row.file_path for row in rows if row.marked})
    gone = []
    for report_id, key in keys.items():
        if _delete_file(storage, report_id, key):
            gone.append(report_id)
        else:
            result.file_errors += 1
    result.files += lifecycle.forget_expired_files(gone)


def _delete_file(storage: Storage, report_id: uuid.UUID, key: str) -> bool:
    """Delete one stored file; True once it is gone (also when it already was), False to retry later."""
    try:
        storage.delete(key)
    except StorageError as exc:
        # A key outside the storage root names nothing retention may delete: just stop pointing at it.
        log.warning("Job %s file key is not a storage key (%s); forgetting it, nothing deleted", report_id, exc)
    except (OSError, StorageUnavailable) as exc:
        log.error("Job %s file %s could not be deleted (%s); the next run tries again", report_id, key, exc)
        return False
    return True


def _purge_audit(cutoff: datetime, batch_size: int) -> int:
    """Delete audit rows written before the cutoff, a batch per transaction; how many went."""
    deleted = 0
    while True:
        count = _write(_DELETE_AUDIT, {"cutoff": cutoff, "batch": batch_size}, lambda found: int(found.rowcount or 0))
        deleted += count
        # Fewer than a batch: done, or the rest is locked by another purger that is deleting it.
        if count < batch_size:
            return deleted


def _count(limits: Cutoffs) -> PurgeResult:
    """What a purge with these cutoffs would delete now (counts only, nothing written)."""
    result = PurgeResult(dry_run=True)
    session = db.session
    if limits.files is not None:
        result.files = int(session.execute(_COUNT_FILES, {"cutoff": limits.files}).scalar_one())
    if limits.report is not None:
        counts = session.execute(_COUNT_REPORTS, {"cutoff": limits.report}).one()
        result.reports, result.events = int(counts.reports), int(counts.events)
    if limits.audit is not None:
        result.audit_rows = int(session.execute(_COUNT_AUDIT, {"cutoff": limits.audit}).scalar_one())
    session.rollback()
    return result
