"""The Redis mirror of paused queues, which workers read on every message (one HGETALL of a tiny hash).

`reportsvc:queue_pauses` HASH: queue -> JSON {"since", "by"}, plus the field `__synced__` written with
every rewrite. A hash without that field (Redis flushed or restarted empty) is "unknown", never "nothing
paused": the caller rebuilds it from PostgreSQL, the system of record.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import redis

MIRROR_KEY = "reportsvc:queue_pauses"
SYNCED = "__synced__"


@dataclass(frozen=True)
class Pause:
    """One paused queue: since when (ISO 8601) and by whom."""

    queue: str
    since: str
    by: str | None


def read_mirror(client: redis.Redis) -> dict[str, Pause] | None:
    """Paused queues by name, or None when the mirror is missing (rebuild it from PostgreSQL)."""
    raw: dict[bytes, bytes] = client.hgetall(MIRROR_KEY)  # type: ignore[assignment]
    if SYNCED.encode() not in raw:
        return None
    found = {}
    for field, value in raw.items():
        name = field.decode()
        if name == SYNCED:
            continue
        data = json.loads(value)
        found[name] = Pause(name, data.get("since", ""), data.get("by"))
    return found


def write_mirror(client: redis.Redis, pauses: dict[str, Pause]) -> None:
    """Replace the mirror with exactly these pauses, atomically (MULTI: readers see the old or the new)."""
    pipe = client.pipeline(transaction=True)
    pipe.delete(MIRROR_KEY)
    mapping: dict[Any, Any] = {SYNCED: "1"}
    mapping.update({p.queue: json.dumps({"since": p.since, "by": p.by}) for p in pauses.values()})
    pipe.hset(MIRROR_KEY, mapping=mapping)
    pipe.execute()
