"""Best-effort Redis commands that ride in a pipeline another send makes anyway (one round trip, not two).

`POST /reports` publishes the console's 'created' event right before it enqueues the report's message; with
`riding`, the event's commands travel at the head of the enqueue's own pipeline (reportsvc.worker.broker calls
`board`). `riders.boarded` tells the caller afterwards whether they went; if not (a broker that takes no
riders), it sends them itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any


class Riders:
    """Commands waiting to ride on the next pipeline `board` is called with (see `riding`)."""

    def __init__(self, add: Callable[[Any], None]) -> None:
        self.add = add
        self.boarded = False


_riders: ContextVar[Riders | None] = ContextVar("reportsvc_redis_riders", default=None)


@contextmanager
def riding(add: Callable[[Any], None]) -> Iterator[Riders]:
    """Within the block, the first pipeline passed to `board` also carries the commands `add(pipe)` queues."""
    riders = Riders(add)
    token = _riders.set(riders)
    try:
        yield riders
    finally:
        _riders.reset(token)


def board(pipe: Any) -> None:
    """Queue the waiting riders' commands on `pipe` (once per `riding` block)."""
    riders = _riders.get()
    if riders is None or riders.boarded:
        return
    riders.boarded = True
    riders.add(pipe)
