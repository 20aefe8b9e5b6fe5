"""Decoding Dramatiq message bodies (JSON of ``dramatiq.Message``) into read-only views."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

#: Queue views know messages, not reports: a caller that wants `report_id` filled in names the actors whose
#: first argument is a report id. By default no actor is one.
NO_REPORT_ACTORS: frozenset[str] = frozenset()

#: Message states as shown to operators.
WAITING = "waiting"
DELAYED = "delayed"
HELD = "held"
DEAD = "dead"
STATES = (WAITING, DELAYED, HELD, DEAD)


def to_str(value: bytes | str) -> str:
    """Text of a Redis reply, whether or not the client decodes responses."""
    return value.decode("utf-8") if isinstance(value, bytes) else value


def to_bytes(value: str | bytes) -> bytes:
    """Bytes of a Redis reply or id, so replies compare equal whether or not the client decodes responses."""
    return value if isinstance(value, bytes) else value.encode("utf-8")


def ms_to_datetime(ms: float | int | None) -> datetime | None:
    """UTC datetime for epoch milliseconds (None stays None)."""
    if ms is None:
        return None
    return datetime.fromtimestamp(float(ms) / 1000.0, tz=UTC)


def to_ms(value: datetime | float | int) -> float:
    """Epoch milliseconds for a datetime (naive means UTC) or a number already in ms."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.timestamp() * 1000.0
    return float(value)


@dataclass(frozen=True)
class MessageView:
    """One Dramatiq message as stored in Redis, plus where it was found."""

    redis_id: str
    message_id: str
    queue: str
    actor: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    options: dict[str, Any]
    enqueued_at: datetime | None
    retries: int
    eta: datetime | None
    report_id: Any
    raw: str
    state: str
    dead_at: datetime | None = None
    held_by: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def traceback(self) -> str | None:
        """Traceback of an earlier failed attempt, if Dramatiq's Retries stored one (never the final one)."""
        tb = self.options.get("traceback")
        return tb if isinstance(tb, str) else None

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for JSON (datetimes stay datetimes)."""
        return dataclasses.asdict(self)


def decode_message(
    body: bytes | str,
    *,
    redis_id: str | None = None,
    state: str = WAITING,
    queue: str | None = None,
    dead_at_ms: float | None = None,
    held_by: str | None = None,
    report_actors: Collection[str] = NO_REPORT_ACTORS,
) -> MessageView:
    """Decode a stored body; a body that is not Dramatiq JSON still yields a view (actor ``?``)."""
    raw = to_str(body)
    try:
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError("not an object")
    except ValueError:
        data = {}
    options = data.get("options") if isinstance(data.get("options"), dict) else {}
    assert isinstance(options, dict)
    args_value = data.get("args")
    args = tuple(args_value) if isinstance(args_value, list | tuple) else ()
    kwargs = data.get("kwargs") if isinstance(data.get("kwargs"), dict) else {}
    assert isinstance(kwargs, dict)
    actor = str(data.get("actor_name", "?"))
    eta_ms = options.get("eta")
    retries = options.get("retries", 0)
    timestamp = data.get("message_timestamp")
    return MessageView(
        redis_id=redis_id or str(options.get("redis_message_id", "")),
        message_id=str(data.get("message_id", "")),
        queue=queue or str(data.get("queue_name", "")),
        actor=actor,
        args=args,
        kwargs=kwargs,
        options=options,
        enqueued_at=ms_to_datetime(timestamp) if isinstance(timestamp, int | float) else None,
        retries=retries if isinstance(retries, int) else 0,
        eta=ms_to_datetime(eta_ms) if isinstance(eta_ms, int | float) else None,
        report_id=args[0] if actor in report_actors and args else None,
        raw=raw,
        state=state,
        dead_at=ms_to_datetime(dead_at_ms),
        held_by=held_by,
    )


def rewrite_for_requeue(body: bytes | str, queue: str) -> str:
    """Body to enqueue again: retries reset, eta/traceback dropped, same ids (Dramatiq's JSON encoding)."""
    return requeued_body(body, queue)[0]


def requeued_body(body: bytes | str, queue: str) -> tuple[str, str]:
    """(:func:`rewrite_for_requeue`'s body for ``queue``, the message's Dramatiq ``message_id`` or "")."""
    data = json.loads(to_str(body))
    options = dict(data.get("options") or {})
    options["retries"] = 0
    for key in ("eta", "traceback", "requeue_timestamp"):
        options.pop(key, None)
    data["options"] = options
    # The worker's Retries and delay consumer re-enqueue on the body's queue_name: it must name the queue it is on.
    data["queue_name"] = queue
    message_id = data.get("message_id")
    # Same separators as dramatiq.encoder.JSONEncoder so bodies look like Dramatiq wrote them.
    return json.dumps(data, separators=(",", ":")), message_id if isinstance(message_id, str) else ""


def rewrite_for_promote(body: bytes | str, queue: str) -> str:
    """Body a worker would enqueue when the eta passes: canonical queue name, eta removed, rest untouched."""
    data = json.loads(to_str(body))
    options = dict(data.get("options") or {})
    options.pop("eta", None)
    data["options"] = options
    data["queue_name"] = queue
    return json.dumps(data, separators=(",", ":"))
