"""Recovery transitions: what the stall sweeper does to a RUNNING report whose worker went quiet.

A stale heartbeat sends the report back to PENDING (stall_count + 1), or to FAILED once it has
stalled more than the limit. Both are fenced on the run_id the sweeper saw, so a worker that
heartbeats (or a rival sweeper that acts) in between wins, and this changes nothing.
"""

from __future__ import annotations

import uuid

from sqlalchemy import func, select

from reportsvc.state.lifecycle._common import R, _session, _transition


def release_stalled(
    report_id: uuid.UUID, run_id: uuid.UUID, *, max_stalled: int, idle_seconds: float
) -> str | None:
    """A RUNNING report whose heartbeat went stale: back to PENDING, FAILED past the limit, CANCELLED if asked."""
    session = _session()
    found = session.execute(
        select(R.c.stall_count, R.c.cancel_requested_by, R.c.cancel_requested_at)
        .where(R.c.id == report_id, R.c.run_id == run_id, R.c.status == "RUNNING")
    ).one_or_none()
    session.rollback()
    if found is None:
        return None
    if found.cancel_requested_at is not None:
        return _cancel_stalled(report_id, run_id, found.cancel_requested_by, idle_seconds)
    stalls = found.stall_count + 1
    detail = {"run_id": str(run_id), "idle_seconds": round(idle_seconds, 1), "stall": stalls}
    if stalls > max_stalled:
        text = f"stalled {stalls} times (worker lost)"
        row = _transition(
            report_id, "RUNNING", "FAILED",
            {"stall_count": stalls, "error_message": text, "progress_message": "Failed",
             "finished_at": func.now(), "run_id": None},
            run_id=run_id, kind="stalled", message=text, detail=detail,
        )
        return None if row is None else "FAILED"
    row = _transition(
        report_id, "RUNNING", "PENDING",
        {"stall_count": stalls, "progress_message": f"Stalled (no heartbeat for {idle_seconds:.0f} s); requeued",
         "run_id": None, "worker": None},
        run_id=run_id, kind="stalled",
        message=f"no heartbeat for {idle_seconds:.0f} s, stall {stalls}/{max_stalled}, moved back to waiting",
        detail=detail,
    )
    return None if row is None else "PENDING"


def _cancel_stalled(report_id: uuid.UUID, run_id: uuid.UUID, actor: str | None, idle_seconds: float) -> str | None:
    """A cancel was asked for and the worker died before acting on it: finish the cancel, do not requeue."""
    text = f"cancelled by {actor or 'unknown'}; its worker went quiet ({idle_seconds:.0f} s) before stopping"
    row = _transition(
        report_id, "RUNNING", "CANCELLED",
        {"progress_message": "Cancelled", "finished_at": func.now(), "run_id": None},
        run_id=run_id, extra_where=R.c.cancel_requested_at.is_not(None), kind="cancelled", message=text,
        detail={"actor": actor, "run_id": str(run_id), "idle_seconds": round(idle_seconds, 1), "by": "stall sweep"},
    )
    return None if row is None else "CANCELLED"
