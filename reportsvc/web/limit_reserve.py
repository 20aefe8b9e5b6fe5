"""Rate-limit hits reserved from Redis in chunks per web process (RATE_LIMIT_RESERVE, issue 16).

With a reserve of 1 every counted request is one INCR on the limit's Redis counter (reportsvc.web.limits,
exact across processes). With a reserve of N a process that finds no hits left in hand takes a chunk of
up to N in one round trip (INCRBY on the same counter, which then says how many hits the processes have
taken between them, spent or not) and spends them locally until the chunk is gone or its window ends.

What that changes, and its bound: no client ever gets more than its limit in a window (Redis grants a
chunk only up to what the window has left), but hits a process holds and has not spent count as used, so
a client can be refused up to P x (chunk - 1) requests before its limit, P being the web processes that
hold a chunk of that client's limit. The chunk is capped at a twentieth of the limit (60/minute: 3;
1000/hour: 10; 20/minute and below: 1, exact), so the early refusal stays under 5 % per process.

Windows are the `limits` library's fixed windows (one Redis key that expires a window after its first hit);
the script returns the key's remaining life, and a chunk is spent only while that lasts, measured from
before the call, so a chunk never outlives its window.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from limits import RateLimitItem

#: INCRBY on the counter (starting the window on its first hit, as limits' own incr_expire script does),
#: then the counter and the window's remaining life in milliseconds, in one round trip.
RESERVE_SCRIPT = """
local amount = tonumber(ARGV[2])
local current = redis.call("incrby", KEYS[1], amount)
if tonumber(current) == amount then
    redis.call("expire", KEYS[1], ARGV[1])
end
return {current, redis.call("pttl", KEYS[1])}
"""
#: A chunk is at most this share of its limit (see the module docstring's bound).
CHUNK_SHARE = 20
#: Forget spent or expired chunks once this many keys are held (one per client and limit).
PRUNE_AT = 4096


def chunk_for(item: RateLimitItem, reserve: int) -> int:
    """Hits one reservation takes for `item`: the setting, capped at a twentieth of the limit, at least 1."""
    return max(1, min(reserve, item.amount // CHUNK_SHARE))


@dataclass
class _Held:
    left: int
    until: float  # time.monotonic() at which the window (and so the chunk) ends


@dataclass(frozen=True)
class Outcome:
    """A reservation's answer: allowed, and when refused the seconds until the window resets."""

    allowed: bool
    retry_after: int = 0


class Reservations:
    """The chunks this process holds, by counter key; thread-safe (the server's threads share it)."""

    def __init__(self) -> None:
        self._held: dict[str, _Held] = {}
        self._lock = threading.Lock()
        self._script: Any = None
        self._script_storage: Any = None

    def take_local(self, key: str) -> bool:
        """Spend one hit already in hand for `key`; False when none is left in an unexpired chunk."""
        now = time.monotonic()
        with self._lock:
            held = self._held.get(key)
            if held is None or held.left <= 0 or now >= held.until:
                return False
            held.left -= 1
            return True

    def hit(self, storage: Any, item: RateLimitItem, key: str, reserve: int) -> Outcome:
        """Count one hit of `item` on counter `key`: from a chunk in hand, else by reserving a new chunk."""
        if self.take_local(key):
            return Outcome(True)
        chunk = chunk_for(item, reserve)
        window = item.get_expiry()
        started = time.monotonic()
        current, pttl = self._reserve(storage, key, window, chunk)
        granted = min(chunk, item.amount - (current - chunk))
        if granted <= 0:
            # Spent (by this process's chunks and others'): the same refusal as an exact count.
            return Outcome(False, max(1, min(window, int(pttl / 1000) + 1)) if pttl > 0 else max(1, window))
        if granted > 1 and pttl > 0:
            self._keep(key, granted - 1, started + pttl / 1000)
        return Outcome(True)

    def clear(self) -> None:
        """Drop every chunk in hand (tests that reset Redis between cases)."""
        with self._lock:
            self._held.clear()

    def _reserve(self, storage: Any, key: str, window: int, chunk: int) -> tuple[int, int]:
        if self._script_storage is not storage:  # registered once per storage: no round trip (EVALSHA later)
            self._script = storage.get_connection().register_script(RESERVE_SCRIPT)
            self._script_storage = storage
        current, pttl = self._script([storage.prefixed_key(key)], [window, chunk])
        return int(current), int(pttl)

    def _keep(self, key: str, left: int, until: float) -> None:
        now = time.monotonic()
        with self._lock:
            held = self._held.get(key)
            if held is not None and held.left > 0 and now < held.until:
                held.left += left  # two threads reserved at once: both chunks belong to this window
                held.until = min(held.until, until)
                return
            if len(self._held) >= PRUNE_AT:
                self._held = {k: h for k, h in self._held.items() if h.left > 0 and now < h.until}
            self._held[key] = _Held(left, until)
