"""Jinja filters for the console: times, durations, sizes and counts, all in UTC and plain words.

Installed on the app by `init_app` (not through the console blueprint), so views import these functions
without importing the console.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Flask

from reportsvc.state.models import ReportRequest
from reportsvc.state.queries import StatusCount

#: What a time may arrive as: a datetime (models), an ISO 8601 string (the queue and audit readers' JSON-ready
#: dicts, which the API returns as is) or None.
Moment = datetime | str | None


def moment(value: Moment) -> datetime | None:
    """The aware UTC datetime of a datetime or an ISO 8601 string (naive ones are UTC); None when absent."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def when(value: Moment) -> str:
    """`2026-11-29 14:03` (UTC); `14:03:22` when it is today. The console's one short form of a time."""
    at = moment(value)
    if at is None:
        return "—"
    if at.date() == datetime.now(UTC).date():
        return at.strftime("%H:%M:%S")
    return at.strftime("%Y-%m-%d %H:%M")


def when_full(value: Moment) -> str:
    """`2026-11-29 14:03:22 UTC`: the console's one full form, for titles and detail pages."""
    at = moment(value)
    return "—" if at is None else at.strftime("%Y-%m-%d %H:%M:%S UTC")


def iso(value: Moment) -> str:
    """ISO 8601 for machine-readable places only (a <time datetime=...> attribute), never for the text shown."""
    at = moment(value)
    return "" if at is None else at.isoformat()


def human_seconds(seconds: float) -> str:
    """`850 ms`, `12.3 s`, `4m 05s`, `2h 03m`."""
    if seconds < 1:
        return f"{int(seconds * 1000)} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def duration(report: ReportRequest) -> str:
    """How long it ran (finished) or has been running (RUNNING); a dash before it started."""
    if report.started_at is None:
        return "—"
    end = report.finished_at or (datetime.now(UTC) if report.status == "RUNNING" else None)
    if end is None:
        return "—"
    return human_seconds(max(0.0, (end - report.started_at).total_seconds()))


def filesize(value: int | None) -> str:
    """`14.2 KB` style size."""
    if value is None:
        return "—"
    size = float(value)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{value} B"


def count(value: StatusCount | None) -> str:
    """Exact counts in full (`1,204`); estimates rounded and marked (`≈ 912k`); unknown as `?`."""
    if value is None or value.value is None:
        return "?"
    if value.exact:
        return f"{value.value:,}"
    n = value.value
    if n >= 1_000_000:
        return f"≈ {n / 1_000_000:.1f}M"
    if n >= 1_000:
        return f"≈ {n / 1_000:.0f}k"
    return f"≈ {n}"


def pretty_json(value: Any) -> str:
    """Indented JSON for params and event details."""
    import json

    return json.dumps(value, indent=2, sort_keys=True, default=str)


#: Filter name in templates -> function.
FILTERS = {"when": when, "when_full": when_full, "iso": iso, "duration": duration, "filesize": filesize, "count": count,
           "pretty_json": pretty_json}


def init_app(app: Flask) -> None:
    """Make the filters available to every template."""
    for name, func in FILTERS.items():
        app.add_template_filter(func, name)
