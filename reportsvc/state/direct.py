"""The worker's hot statements on the pooled psycopg connection itself, without the ORM session.

With WORKER_DIRECT_SQL on (the default), the lifecycle's `claim`, `heartbeat`, `progress`, `finish` (with
the expected file) and `heartbeat_many`, and the report log's `append`, run their statements here: the same
SQL text as the session path, the same transactions (one per call, `finish` holding its row lock across
`publish`), so the fencing is unchanged; what goes is SQLAlchemy's per-statement work around them (Session
and Connection bookkeeping, compiled-cache lookup, parameter processing, Result objects), about 0.3 ms of
client CPU per transaction. psycopg prepares each statement server-side on its connection
(`prepare=True`). JSONB parameters go as JSON text cast in the SQL. Committed events are counted for the
metrics after the commit, as the session's hook would. A call of one statement runs it in autocommit
(`autocommit()`: one statement is atomic on its own, so no BEGIN and COMMIT round trips).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

from reportsvc.config import get_settings
from reportsvc.extensions import db


def enabled() -> bool:
    """Whether the worker's fenced statements run here (WORKER_DIRECT_SQL) rather than through the session."""
    return bool(get_settings().hotpath.worker_direct_sql)


def pyformat(sql: str) -> str:
    """A text() statement's `:name` parameters in psycopg's `%(name)s` style (`::type` casts left alone)."""
    return re.sub(r"(?<![:\w]):(\w+)", r"%(\1)s", sql.replace("%", "%%"))


def as_json(value: Any) -> str:
    """A JSONB parameter as its JSON text (the SQL casts it)."""
    return json.dumps(value)


@contextmanager
def transaction() -> Iterator[psycopg.Connection[Any]]:
    """One transaction on a connection from the app's pool: committed when the block ends, rolled back if it
    raises. A connection that broke invalidates the pool, as Core does; it goes back to the pool either way.

    The pool's checkout rules apply as for the session (DB_PING_IDLE_SECONDS, pre-ping)."""
    with _pooled(autocommit=False) as conn:
        yield conn


@contextmanager
def autocommit() -> Iterator[psycopg.Connection[Any]]:
    """A pooled connection in autocommit, for one statement that is atomic on its own: each statement commits as
    it runs, without the BEGIN and COMMIT round trips (two of a single-statement transaction's three).

    Only for a block that runs one statement, or statements that need no common transaction. The pool and its
    invalidation rules are `transaction()`'s; the connection goes back to the pool out of autocommit."""
    with _pooled(autocommit=True) as conn:
        yield conn


@contextmanager
def _pooled(*, autocommit: bool) -> Iterator[psycopg.Connection[Any]]:
    engine = db.engine
    fairy = engine.raw_connection()
    conn: psycopg.Connection[Any] = fairy.driver_connection  # type: ignore[assignment]
    try:
        if autocommit:
            conn.autocommit = True  # a client-side flag: no round trip (the connection is idle at checkout)
        yield conn
        if not autocommit:
            conn.commit()
    except BaseException as exc:
        try:
            if conn.broken or conn.closed:
                # What Core does on a disconnect: this connection is discarded
                # and every other one pooled before now is replaced at its next checkout.
                engine.pool._invalidate(fairy, exc if isinstance(exc, Exception) else None)
            elif not autocommit:
                conn.rollback()
        except Exception:
            fairy.invalidate()
        raise
    finally:
        try:
            if autocommit and not conn.closed:
                conn.autocommit = False  # back as the pool handed it out (the sessions expect transactions)
        except Exception:
            fairy.invalidate()
        fairy.close()


def run(conn: psycopg.Connection[Any], sql: str, params: dict[str, Any]) -> None:
    """Run a prepared statement that returns no rows."""
    conn.execute(sql, params, prepare=True)


def one(conn: psycopg.Connection[Any], sql: str, params: dict[str, Any]) -> tuple[Any, ...] | None:
    """Run a prepared statement and return its first row (None when it matched nothing)."""
    return conn.execute(sql, params, prepare=True).fetchone()


def rows(conn: psycopg.Connection[Any], sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Run a prepared statement and return every row."""
    return conn.execute(sql, params, prepare=True).fetchall()
