"""Pool checkout that pings a connection only after it sat idle (DB_PING_IDLE_SECONDS), not on every use.

SQLAlchemy's `pool_pre_ping` spends a round trip on every checkout, and a worker checks a connection out
for every transaction of a job (claim, finish, the email's claim and event: four pings per report). A
connection returned to the pool less than DB_PING_IDLE_SECONDS ago was working then, so it is handed out
as it is; one idle longer is pinged first and replaced when the ping fails, as pre-ping did. The case
left: PostgreSQL restarts within that second. The next statement on such a connection then fails as a
disconnect, which invalidates the whole pool (every older connection is replaced at its next checkout),
so one statement per process fails where pre-ping would have failed none; the job's usual retry covers it.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError

_RETURNED = "reportsvc_returned_at"


def ping_after_idle(engine: Engine, idle_seconds: float) -> None:
    """Ping connections idle at least `idle_seconds` at checkout; 0 leaves it to pool_pre_ping."""
    if idle_seconds <= 0 or getattr(engine, "_reportsvc_ping_after_idle", False):
        return
    dialect = engine.dialect

    def checkin(dbapi_connection: Any, record: Any) -> None:
        record.info[_RETURNED] = time.monotonic()

    def checkout(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        returned = record.info.get(_RETURNED)
        if returned is None or time.monotonic() - returned < idle_seconds:
            return  # just connected, or in use a moment ago
        try:
            alive = dialect._do_ping_w_event(dbapi_connection)
        except Exception as exc:
            raise DisconnectionError(f"ping failed: {exc}") from exc
        if not alive:
            raise DisconnectionError("ping found the connection closed")  # the pool retries with a new one

    event.listen(engine, "checkin", checkin)
    event.listen(engine, "checkout", checkout)
    engine._reportsvc_ping_after_idle = True  # type: ignore[attr-defined]
