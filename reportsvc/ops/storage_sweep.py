"""Housekeeping of the report store: delete stored files that no report names, once past a grace period.

Writes are fenced per run (`<report_id>/<run_id>.pdf`), and only the READY transition says which one is the
report's file. What else sits under a report's prefix is a leftover: a run whose READY commit failed after
its upload, the file of a report that was deleted, a file copied away by `storage copy`. Files younger than
STORAGE_ORPHAN_GRACE_SECONDS are left alone (a run between its upload and its commit is not a leftover), and
keys that name no report are not ours to delete. Safe with several schedulers: deleting twice is harmless.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY, UUID

from reportsvc import metrics
from reportsvc.config import Settings
from reportsvc.extensions import db
from reportsvc.state.storage import Storage, StorageError, report_of_key, storage_for

log = logging.getLogger("reportsvc.scheduler")

BATCH = 500

_NAMED = text("SELECT id, file_path FROM report_requests WHERE id = ANY(:ids)").bindparams(
    bindparam("ids", type_=ARRAY(UUID(as_uuid=True)))
)


@dataclass
class SweepResult:
    """What one sweep looked at and removed."""

    examined: int = 0
    deleted: int = 0

    def summary(self) -> str:
        """One log line."""
        return f"examined {self.examined}, removed {self.deleted} orphaned report files"


def sweep_orphans(settings: Settings, *, now: datetime | None = None, storage: Storage | None = None) -> SweepResult:
    """Delete files older than the grace period that their report's row does not name (or whose report is gone)."""
    storage = storage or storage_for(settings)
    cutoff = (now or datetime.now(UTC)) - timedelta(seconds=settings.storage.orphan_grace_seconds)
    result = SweepResult()
    for batch in _batches(((key, rid) for key, modified in storage.listing()
                           if modified < cutoff and (rid := report_of_key(key)) is not None), BATCH):
        result.examined += len(batch)
        rows = db.session.execute(_NAMED, {"ids": list({rid for _, rid in batch})}).all()
        named: dict[uuid.UUID, str | None] = {row.id: row.file_path for row in rows}
        db.session.rollback()
        for key, rid in batch:
            if named.get(rid) == key:
                continue
            try:
                storage.delete(key)
            except StorageError:
                continue
            result.deleted += 1
            log.info("Job %s stored file %s is named by no report; deleted", rid, key)
    if result.deleted:
        metrics.inc("storage_orphans_deleted_total", amount=result.deleted)
    return result


def _batches(items: Iterable[tuple[str, uuid.UUID]], size: int) -> Iterator[list[tuple[str, uuid.UUID]]]:
    batch: list[tuple[str, uuid.UUID]] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
