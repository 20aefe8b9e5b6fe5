"""The source a plugin or table report reads from: SQL run read-only, bounded in time and rows.

Every report gets its own `ReadOnlySource`: one connection to `REPORT_SOURCE_DATABASE_URL` (reportsvc's own
database when unset) holding one `READ ONLY` transaction with `statement_timeout` set
(`REPORT_QUERY_TIMEOUT_SECONDS`). Rows are streamed through a server-side cursor in batches, so a
100,000-row report never holds its rows in memory, and stop after `REPORT_MAX_ROWS` (the result says it
was cut). Parameters are always bound by the driver, never formatted into the SQL.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.exc import DBAPIError

from reportsvc.config import get_settings
from reportsvc.extensions import db

#: Rows fetched per round trip from the server-side cursor: the most a report holds at once.
BATCH_ROWS = 2000

#: SQLSTATE classes of errors the same query would meet again: syntax and access (42), a write in the
#: read-only transaction (25), data errors (22), the timeout (57014) and limits (54). Others (a dropped
#: connection, a restart) may pass on the next try and are left to the retries.
PERMANENT_SQLSTATE_PREFIXES = ("42", "25", "22", "57014", "54")

_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def _engine(url: str | None) -> Engine:
    """reportsvc's own engine, or one small pool per other source URL (shared by the process's threads)."""
    if url is None:
        return db.engine
    with _engines_lock:
        found = _engines.get(url)
        if found is None:
            found = _engines[url] = create_engine(url, pool_pre_ping=True, pool_size=2, max_overflow=8,
                                                  pool_recycle=1800)
        return found


class QueryRefused(Exception):
    """The report's query failed in a way a retry would repeat (`permanent`), or not."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


def _refused(exc: DBAPIError, timeout_seconds: int) -> QueryRefused:
    code = getattr(exc.orig, "sqlstate", None) or ""
    permanent = code.startswith(PERMANENT_SQLSTATE_PREFIXES)
    if code == "57014":
        return QueryRefused(f"query timed out after {timeout_seconds} s (REPORT_QUERY_TIMEOUT_SECONDS)",
                            permanent=True)
    first_line = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
    return QueryRefused(f"query failed: {first_line}", permanent=permanent)


class QueryResult:
    """A query's column names and its rows, streamed once; `truncated` is True when the row cap cut it."""

    def __init__(self, columns: list[str], batches: Iterator[list[Any]], max_rows: int,
                 on_rows: Callable[[int], None] | None) -> None:
        self.columns = columns
        self.max_rows = max_rows
        self.row_count = 0
        self.truncated = False
        self._batches = batches
        self._on_rows = on_rows

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        for batch in self._batches:
            for row in batch:
                if self.row_count >= self.max_rows:
                    self.truncated = True
                    return
                self.row_count += 1
                yield tuple(row)
            if self._on_rows is not None:
                self._on_rows(self.row_count)


class ReadOnlySource:
    """Read-only SQL for one report: `query(sql, params)` streams rows; `progress` reports back."""

    def __init__(self, url: str | None, timeout_seconds: int, max_rows: int,
                 progress: Callable[[int, str], None] | None = None) -> None:
        self.url = url
        self.timeout_seconds = timeout_seconds
        self.max_rows = max_rows
        self._progress = progress
        self._conn: Connection | None = None

    def _connection(self) -> Connection:
        if self._conn is None:
            conn = _engine(self.url).connect()
            conn.execute(text("SET TRANSACTION READ ONLY"))  # the first statement of the transaction
            conn.execute(text("SELECT set_config('statement_timeout', :ms, true)"),
                         {"ms": str(self.timeout_seconds * 1000)})
            self._conn = conn
        return self._conn

    def query(self, sql: str, params: Mapping[str, Any] | None = None,
              on_rows: Callable[[int], None] | None = None) -> QueryResult:
        """Run `sql` with `params` bound; rows stream in batches, at most REPORT_MAX_ROWS of them."""
        try:
            result = self._connection().execution_options(stream_results=True, max_row_buffer=BATCH_ROWS).execute(
                text(sql), dict(params or {}))
        except DBAPIError as exc:
            raise _refused(exc, self.timeout_seconds) from None
        columns = list(result.keys())

        def batches() -> Iterator[list[Any]]:
            try:
                while True:
                    try:
                        batch = result.fetchmany(BATCH_ROWS)
                    except DBAPIError as exc:
                        raise _refused(exc, self.timeout_seconds) from None
                    if not batch:
                        return
                    yield list(batch)
            finally:
                result.close()

        return QueryResult(columns, batches(), self.max_rows, on_rows)

    def progress(self, percent: int, message: str) -> None:
        """Tell the worker how far the report is (raises when this run lost its claim)."""
        if self._progress is not None:
            self._progress(percent, message)

    def close(self) -> None:
        """End the transaction (rolled back: nothing was written) and return the connection."""
        if self._conn is not None:
            try:
                self._conn.rollback()
            finally:
                self._conn.close()
                self._conn = None


def readonly_source(progress: Callable[[int, str], None] | None = None) -> ReadOnlySource:
    """A ReadOnlySource configured from the settings."""
    settings = get_settings()
    return ReadOnlySource(settings.report_source_database_url, settings.report_query_timeout_seconds,
                          settings.report_max_rows, progress)
