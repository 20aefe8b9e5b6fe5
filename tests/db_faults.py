"""Database faults for tests: end the pooled connections an app opened, as a restarted server or a proxy would."""

from __future__ import annotations

from datetime import datetime

import psycopg
from flask import Flask


def kill_backends_since(app: Flask, started: datetime) -> int:
    """Terminate every backend of the app's database started at or after `started`; how many were killed."""
    from reportsvc.extensions import db

    with app.app_context():
        url = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as conn:  # outside the pool, so it kills only the app's own
        row = conn.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                           " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                           " AND backend_start >= %s", (started,)).fetchone()
    return int(row[0]) if row is not None else 0
