"""The `operations` report's data: params, the source protocol, the frozen data and `gather()`.

`gather()` asks an `OperationsSource` (provided by the caller, e.g. a SQL-backed source in the
worker) for every figure and freezes them into `OperationsData`, which `operations_pdf.render()`
turns into a PDF.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

STATUSES = ("PENDING", "RUNNING", "READY", "FAILED", "CANCELLED")
PERCENTILE_KEYS = ("p50", "p90", "p95", "p99", "max")
DEFAULT_TITLE = "Operations summary"
TOP_FAILURES_LIMIT = 20
ERROR_MESSAGE_MAX = 200
FOOTER_LABEL = "reportsvc \u2014 operations summary"
#: The window's end must fall in [UNTIL_EARLIEST, now + UNTIL_FUTURE_SLACK]: earlier or later windows describe a
#: time this service never ran in, and dates near year 9999 overflow the window arithmetic in gather().
UNTIL_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
UNTIL_FUTURE_SLACK = timedelta(days=1)


# --------------------------------------------------------------------------- params


class OperationsParams(BaseModel):
    """Params of the `operations` report: the window is `window_hours` ending at `until` (UTC)."""

    model_config = ConfigDict(extra="forbid")

    window_hours: int = Field(default=24, ge=1, le=720, title="Window (hours)",
                              description="Length of the window, in hours.")
    until: AwareDatetime | None = Field(
        default=None,
        title="Until",
        description="End of the window (timezone-aware ISO 8601, from 2000-01-01 to one day from now); "
        "defaults to generation time.",
    )

    @field_validator("until", mode="before")
    @classmethod
    def _text_only(cls, value: Any) -> Any:
        # pydantic reads a bare number as Unix seconds (or milliseconds): 99999999999 would be year 5138.
        if value is not None and not isinstance(value, str | datetime):
            raise PydanticCustomError("until_type", "must be an ISO 8601 date-time string with a timezone")
        return value

    @field_validator("until")
    @classmethod
    def _to_utc(cls, value: datetime | None) -> datetime | None:
        # Stored params and the PDF both speak UTC; normalizing here keeps them comparable.
        if value is None:
            return None
        try:
            value = value.astimezone(UTC)
        except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00 has no UTC equivalent
            value = UNTIL_EARLIEST - timedelta(days=1)
        latest = datetime.now(UTC) + UNTIL_FUTURE_SLACK
        if not UNTIL_EARLIEST <= value <= latest:
            raise PydanticCustomError(
                "until_range", "must be between {earliest} and one day from now",
                {"earliest": UNTIL_EARLIEST.strftime("%Y-%m-%d")})
        return value


# --------------------------------------------------------------------------- source protocol


@runtime_checkable
class OperationsSource(Protocol):
    """What `gather()` needs from the system of record; windows are half-open `[since, until)`."""

    def status_counts(self, since: datetime, until: datetime) -> Mapping[str, int]:
        """Reports created in the window, by status (PENDING/RUNNING/READY/FAILED/CANCELLED)."""
        ...

    def hourly_throughput(self, since: datetime, until: datetime) -> Sequence[tuple[datetime, int, int]]:
        """(hour start, READY count, FAILED count) per hour of `finished_at`; hours may be omitted."""
        ...

    def duration_percentiles(self, since: datetime, until: datetime) -> Mapping[str, float | None]:
        """p50/p90/p95/p99/max of `finished_at - started_at` in seconds for READY reports."""
        ...

    def top_failures(self, since: datetime, until: datetime, limit: int) -> Sequence[tuple[str | None, int]]:
        """Most frequent `error_message` of FAILED reports, most frequent first."""
        ...

    def queue_depths(self) -> Sequence[Mapping[str, Any]]:
        """Current depth per queue: `{"queue", "waiting", "delayed", "held", "dead"}`."""
        ...


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class HourBucket:
    """Throughput of one hour (UTC): reports that finished READY and FAILED in it."""

    hour: datetime
    completed: int
    failed: int


@dataclass(frozen=True)
class QueueDepth:
    """Message counts of one queue at generation time."""

    queue: str
    waiting: int = 0
    delayed: int = 0
    held: int = 0
    dead: int = 0


@dataclass(frozen=True)
class OperationsData:
    """Every figure of an operations summary, computed and ready to render."""

    title: str
    generated_at: datetime
    since: datetime
    until: datetime
    window_hours: int
    status_counts: tuple[tuple[str, int], ...]
    total: int
    ready: int
    failed: int
    cancelled: int
    in_progress: int
    success_rate: float | None
    throughput: tuple[HourBucket, ...]
    durations: tuple[tuple[str, float | None], ...]
    top_failures: tuple[tuple[str, int], ...]
    queues: tuple[QueueDepth, ...] = field(default=())


# --------------------------------------------------------------------------- gather


def gather(
    source: OperationsSource,
    params: OperationsParams | Mapping[str, Any] | None = None,
    title: str | None = None,
    *,
    now: datetime | None = None,
) -> OperationsData:
    """Query `source` for the window described by `params` and return the frozen report data."""
    if not isinstance(params, OperationsParams):
        params = OperationsParams.model_validate(dict(params or {}))
    generated_at = as_utc(now) if now is not None else datetime.now(UTC)
    until = params.until if params.until is not None else generated_at
    since = until - timedelta(hours=params.window_hours)

    counts = {s: 0 for s in STATUSES}
    for status, n in source.status_counts(since, until).items():
        counts[str(status).upper()] = counts.get(str(status).upper(), 0) + int(n)
    ready, failed = counts["READY"], counts["FAILED"]
    finished = ready + failed

    raw_pct = source.duration_percentiles(since, until)
    durations = tuple((k, _float_or_none(raw_pct.get(k))) for k in PERCENTILE_KEYS)

    failures = tuple((_clean_message(msg), int(n)) for msg, n in source.top_failures(since, until, TOP_FAILURES_LIMIT))[
        :TOP_FAILURES_LIMIT
    ]

    queues = tuple(
        QueueDepth(
            queue=str(q.get("queue", "?")),
            waiting=int(q.get("waiting") or 0),
            delayed=int(q.get("delayed") or 0),
            held=int(q.get("held") or 0),
            dead=int(q.get("dead") or 0),
        )
        for q in source.queue_depths()
    )

    return OperationsData(
        title=(title or "").strip() or DEFAULT_TITLE,
        generated_at=generated_at,
        since=since,
        until=until,
        window_hours=params.window_hours,
        status_counts=tuple(counts.items()),
        total=sum(counts.values()),
        ready=ready,
        failed=failed,
        cancelled=counts["CANCELLED"],
        in_progress=counts["PENDING"] + counts["RUNNING"],
        success_rate=(ready / finished) if finished else None,
        throughput=_hour_buckets(since, until, source.hourly_throughput(since, until)),
        durations=durations,
        top_failures=failures,
        queues=queues,
    )


def as_utc(value: datetime) -> datetime:
    """The datetime in UTC (naive values are taken as UTC, as the database stores them)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _floor_hour(value: datetime) -> datetime:
    return as_utc(value).replace(minute=0, second=0, microsecond=0)


def _hour_buckets(
    since: datetime, until: datetime, rows: Sequence[tuple[datetime, int, int]]
) -> tuple[HourBucket, ...]:
    # Zero-fill every hour of the window so the chart's x axis is the window, not the busy hours.
    merged: dict[datetime, list[int]] = {}
    for hour, completed, failed in rows:
        slot = merged.setdefault(_floor_hour(hour), [0, 0])
        slot[0] += int(completed)
        slot[1] += int(failed)
    start, end = _floor_hour(since), as_utc(until)
    out: list[HourBucket] = []
    hour = start
    while hour < end:
        completed, failed = merged.get(hour, (0, 0))
        out.append(HourBucket(hour, completed, failed))
        hour += timedelta(hours=1)
    return tuple(out)


def _float_or_none(value: Any) -> float | None:
    if value is None:
        return None
    f = float(value)
    return None if math.isnan(f) else f


_WS = re.compile(r"\s+")


def _clean_message(message: str | None) -> str:
    # Error messages can be multi-line tracebacks; one line, bounded length reads better in a table.
    text = _WS.sub(" ", message or "").strip() or "(no error message)"
    if len(text) > ERROR_MESSAGE_MAX:
        text = text[: ERROR_MESSAGE_MAX - 1].rstrip() + "\u2026"
    return text


def percentiles(values: Sequence[float]) -> dict[str, float | None]:
    """p50/p90/p95/p99/max of `values` with linear interpolation (PostgreSQL's percentile_cont)."""
    if not values:
        return {k: None for k in PERCENTILE_KEYS}
    ordered = sorted(float(v) for v in values)

    def pct(p: float) -> float:
        pos = p * (len(ordered) - 1)
        lo = math.floor(pos)
        hi = min(lo + 1, len(ordered) - 1)
        return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)

    return {"p50": pct(0.5), "p90": pct(0.9), "p95": pct(0.95), "p99": pct(0.99), "max": ordered[-1]}


# --------------------------------------------------------------------------- static source


@dataclass
class StaticOperationsSource:
    """An in-memory `OperationsSource` built from plain values, for tests and benchmarks."""

    counts: dict[str, int] = field(default_factory=dict)
    hourly: list[tuple[datetime, int, int]] = field(default_factory=list)
    durations: list[float] = field(default_factory=list)
    failures: list[tuple[str | None, int]] = field(default_factory=list)
    queues: list[dict[str, Any]] = field(default_factory=list)

    def status_counts(self, since: datetime, until: datetime) -> dict[str, int]:
        """Return the configured counts (the window is the caller's concern here)."""
        return dict(self.counts)

    def hourly_throughput(self, since: datetime, until: datetime) -> list[tuple[datetime, int, int]]:
        """Return the configured hours that fall inside `[since, until)`."""
        lo = _floor_hour(since)
        return [row for row in self.hourly if lo <= as_utc(row[0]) < until]

    def duration_percentiles(self, since: datetime, until: datetime) -> dict[str, float | None]:
        """Percentiles of the configured durations."""
        return percentiles(self.durations)

    def top_failures(self, since: datetime, until: datetime, limit: int) -> list[tuple[str | None, int]]:
        """The configured failures, most frequent first, at most `limit`."""
        return sorted(self.failures, key=lambda f: -f[1])[:limit]

    def queue_depths(self) -> list[dict[str, Any]]:
        """The configured queue depths."""
        return [dict(q) for q in self.queues]


