"""Moving every stored PDF between backends (`flask --app app storage copy --to s3|local`).

Keys are backend-relative (`<report_id>/<run_id>.pdf`; S3 adds S3_PREFIX), so a row names its file the same
way in both: copying the bytes under the same key is what points the rows at the other store once
STORAGE_BACKEND is switched, and until then the service keeps serving from the source, so every report stays
downloadable all along. Resumable and idempotent: a key already in the target with the size the row records
is skipped; each copy is checked against the row's SHA-256 before it is written.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import text

from reportsvc.config import Settings
from reportsvc.extensions import db
from reportsvc.state.storage import Storage, StorageMissing, storage_for

log = logging.getLogger("reportsvc.storage")

BATCH = 200

_PAGE = text(
    "SELECT id, file_path, file_size, file_sha256 FROM report_requests"
    " WHERE status = 'READY' AND file_path IS NOT NULL AND file_expired_at IS NULL AND id > :after"
    " ORDER BY id LIMIT :limit"
)
_COUNT = text("SELECT count(*) FROM report_requests"
              " WHERE status = 'READY' AND file_path IS NOT NULL AND file_expired_at IS NULL")


@dataclass
class CopyResult:
    """What one run copied, found already there, and could not copy."""

    copied: int = 0
    present: int = 0
    missing: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)

    def summary(self, dry_run: bool) -> str:
        """One line for the terminal."""
        verb = "would copy" if dry_run else "copied"
        return (f"{verb} {self.copied}, already there {self.present}, missing from the source "
                f"{len(self.missing)}, checksum mismatch {len(self.mismatched)}")


def backends(settings: Settings, to: str) -> tuple[Storage, Storage]:
    """(source, target) for a copy to `to` ("s3" or "local"); the S3 side uses the S3_* settings."""
    if to == "s3" and not settings.storage.s3_bucket:
        raise ValueError("copying to s3 needs S3_BUCKET (and S3_ENDPOINT_URL off AWS) in the environment")
    as_backend = {name: replace(settings, storage=replace(settings.storage, backend=name)) for name in ("local", "s3")}
    source = "local" if to == "s3" else "s3"
    return storage_for(as_backend[source]), storage_for(as_backend[to])


def count() -> int:
    """How many READY reports hold a file."""
    total = int(db.session.execute(_COUNT).scalar_one())
    db.session.rollback()
    return total


def _rows() -> Iterator[Any]:
    after = uuid.UUID(int=0)
    while True:
        page = db.session.execute(_PAGE, {"after": after, "limit": BATCH}).all()
        db.session.rollback()
        if not page:
            return
        yield from page
        after = page[-1].id


def copy_all(source: Storage, target: Storage, *, dry_run: bool = False,
             step: Callable[[], None] = lambda: None) -> CopyResult:
    """Copy every READY report's file from source to target under the same key; `step` ticks once per report."""
    result = CopyResult()
    for row in _rows():
        _copy_one(row, source, target, dry_run, result)
        step()
    return result


def _copy_one(row: Any, source: Storage, target: Storage, dry_run: bool, result: CopyResult) -> None:
    key = str(row.file_path)
    if target.exists(key):
        result.present += 1
        return
    if dry_run:
        if source.exists(key):
            result.copied += 1
        else:
            result.missing.append(key)
        return
    try:
        stored = source.stream(key)
    except StorageMissing:
        log.warning("Job %s file %s is missing from the source; not copied", row.id, key)
        result.missing.append(key)
        return
    data = b"".join(stored.chunks)
    if row.file_sha256 and hashlib.sha256(data).hexdigest() != row.file_sha256:
        log.error("Job %s file %s does not match the SHA-256 its row records; not copied", row.id, key)
        result.mismatched.append(key)
        return
    target.save(key, data)
    result.copied += 1
