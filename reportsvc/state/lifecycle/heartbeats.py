"""Many claims' heartbeats in one statement: what one worker process's heartbeat thread sends for every claim
it holds (reportsvc.worker.heartbeat), instead of one UPDATE per claim from one thread per job."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY, UUID

from reportsvc.state import direct
from reportsvc.state.lifecycle._common import _session

#: The fenced heartbeat of many claims (each matched on id, run_id and RUNNING, as `worker.heartbeat` is),
#: rows taken in id order so two beats never wait on each other crosswise; returns the cancel marks.
_BEAT_MANY_SQL = (
    "WITH c AS (SELECT * FROM unnest(:ids, :run_ids) AS c(id, run_id)),"
    " l AS (SELECT r.id FROM report_requests r JOIN c ON r.id = c.id AND r.run_id = c.run_id"
    " WHERE r.status = 'RUNNING' ORDER BY r.id FOR NO KEY UPDATE OF r)"
    " UPDATE report_requests r SET heartbeat_at = now() FROM l WHERE r.id = l.id"
    " RETURNING r.id, r.run_id, r.cancel_requested_at"
)
_BEAT_MANY = text(_BEAT_MANY_SQL).bindparams(bindparam("ids", type_=ARRAY(UUID(as_uuid=True))),
             bindparam("run_ids", type_=ARRAY(UUID(as_uuid=True))))


_BEAT_MANY_DIRECT = direct.pyformat(_BEAT_MANY_SQL)


def heartbeat_many(claims: Sequence[tuple[uuid.UUID, uuid.UUID]]) -> dict[tuple[uuid.UUID, uuid.UUID], str]:
    """Refresh every (report_id, run_id) claim: each maps to "held", "cancel" or "lost" as in `heartbeat`."""
    if not claims:
        return {}
    values = {"ids": [c[0] for c in claims], "run_ids": [c[1] for c in claims]}
    if direct.enabled():
        with direct.transaction() as conn:
            rows = direct.rows(conn, _BEAT_MANY_DIRECT, values)
    else:
        session = _session()
        try:
            rows = [tuple(row) for row in session.execute(_BEAT_MANY, values).all()]
            session.commit()
        except BaseException:
            session.rollback()
            raise
    found = {(rid, run): ("held" if cancel_mark is None else "cancel") for rid, run, cancel_mark in rows}
    return {claim: found.get(claim, "lost") for claim in claims}
