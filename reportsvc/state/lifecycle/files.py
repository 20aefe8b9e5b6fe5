"""Retention's writes (called by reportsvc.ops.retention): mark finished reports' files expired, then forget them.

Status is never changed here; a report keeps its outcome, it only stops naming a file.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import JSONB

from reportsvc.state.lifecycle._common import R, _session, log

#: Mark finished reports' files expired and add their 'file_expired' events, as one statement built once.
#: SKIP LOCKED: a row another purger (or anyone) holds is left for the next run instead of waited for.
#: The row keeps naming its file until the caller has deleted it (forget_expired_files), so a crash in
#: between leaves a row that says "expired" and still names the file: the next run deletes it then.
_EXPIRE_FILES = text(
    "WITH picked AS ("
    " SELECT id FROM report_requests"
    " WHERE id = ANY(:ids) AND status IN ('READY', 'FAILED', 'CANCELLED')"
    " AND file_path IS NOT NULL AND file_expired_at IS NULL"
    " FOR UPDATE SKIP LOCKED"
    "), u AS ("
    " UPDATE report_requests r SET file_expired_at = now(), updated_at = now()"
    " FROM picked WHERE r.id = picked.id"
    " RETURNING r.id, r.file_path, r.file_size"
    "), e AS ("
    " INSERT INTO report_events (report_id, kind, message, detail)"
    " SELECT id, 'file_expired', :message,"
    " jsonb_build_object('file_path', file_path, 'file_size', file_size) || :detail FROM u"
    ")"
    " SELECT id, file_path FROM u"
).bindparams(bindparam("detail", type_=JSONB)).columns(R.c.id, R.c.file_path)

#: Stop naming files that are gone; only rows already marked expired (never a live download).
_FORGET_FILES = text(
    "UPDATE report_requests SET file_path = NULL, file_sha256 = NULL, updated_at = now()"
    " WHERE id = ANY(:ids) AND file_expired_at IS NOT NULL AND file_path IS NOT NULL"
    " RETURNING id"
)


def expire_files(report_ids: list[uuid.UUID], *, reason: str,
                 detail: dict[str, Any] | None = None) -> dict[uuid.UUID, str]:
    """Mark the files of these finished reports expired (one 'file_expired' event each); {id: file key} marked.

    Status is unchanged. Only finished reports that still name a file not yet marked are touched;
    rows locked by someone else are skipped. The caller deletes the returned files, then calls
    `forget_expired_files` with the ids whose file is gone.
    """
    ids = list(dict.fromkeys(report_ids))
    if not ids:
        return {}
    session = _session()
    try:
        rows = session.execute(_EXPIRE_FILES, {"ids": ids, "message": reason, "detail": detail or {}}).all()
        session.commit()
    except BaseException:
        session.rollback()
        raise
    for row in rows:
        log.debug("Job %s file %s expired (%s)", row.id, row.file_path, reason)
    return {row.id: row.file_path for row in rows}


def forget_expired_files(report_ids: list[uuid.UUID]) -> int:
    """Clear file_path on expired reports whose file has been deleted; how many rows changed."""
    ids = list(dict.fromkeys(report_ids))
    if not ids:
        return 0
    session = _session()
    try:
        changed = len(session.execute(_FORGET_FILES, {"ids": ids}).all())
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return changed
