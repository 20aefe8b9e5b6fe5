"""The two UPDATEs every bare baseline makes around its render: the claim and READY with the file.

Shared by `bench/_cost_bare.py` and `bench/_pipeline_baseline.py` so both baselines claim and finish a
report with the same SQL; each commits as its connection is set up (autocommit or not).
"""

from __future__ import annotations

import uuid
from typing import Any

import psycopg

from reportsvc.state.storage import LocalStorage, report_key


def claim(conn: psycopg.Connection[Any], report_id: str, run_id: uuid.UUID, returning: str) -> tuple[Any, ...] | None:
    """PENDING -> RUNNING with a new run id; the ``returning`` columns, or None if it was not PENDING."""
    return conn.execute(
        "UPDATE report_requests SET status = 'RUNNING', run_id = %s, attempts = attempts + 1, started_at = now(),"
        f" updated_at = now() WHERE id = %s AND status = 'PENDING' RETURNING {returning}",
        (run_id, report_id),
    ).fetchone()


def save_ready(
    conn: psycopg.Connection[Any], storage: LocalStorage, report_id: str, run_id: uuid.UUID, pdf: bytes
) -> None:
    """Write the file atomically (the product's storage code), then RUNNING -> READY for this run."""
    key = report_key(uuid.UUID(report_id), run_id)
    size = storage.save(key, pdf)
    conn.execute(
        "UPDATE report_requests SET status = 'READY', progress = 100, file_path = %s, file_size = %s,"
        " finished_at = now(), updated_at = now() WHERE id = %s AND status = 'RUNNING' AND run_id = %s",
        (key, size, report_id, run_id),
    )
