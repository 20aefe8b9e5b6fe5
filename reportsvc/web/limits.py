"""Rate limits on named views (issue 6), counted in Redis with the `limits` library.

A limited view is wrapped once at start-up (reportsvc.web.auth). Per request the wrapper does what these
limits need and nothing more: for a counted method, the limit string from the settings (parsed once per
distinct string), the key (the client address, or the view's key function such as the account), and one
fixed-window hit per limit in the string (an INCR, one Redis round trip each), in order from the smallest
window, stopping at the first that is spent: that one is refused with `RateLimited` (429 with Retry-After,
answered by web/auth.py). Several views may share one budget by naming the same scope.

Until issue 16 this was Flask-Limiter, whose per-request pass (a before_request evaluation of application
and default limits this service never sets, then the decorator's own with exemption scopes, meta limits and
request-limit objects) cost about as much CPU as the INCR itself on every `POST /reports`. The counters are
the same Redis keys Flask-Limiter wrote (prefix, key, scope, limit), so a running window survives the upgrade.

Redis trouble never refuses a request: the limit is skipped and a warning logged (Flask-Limiter's
RATELIMIT_SWALLOW_ERRORS, as configured before).

RATE_LIMIT_RESERVE above 1 takes the hits in chunks per process (reportsvc.web.limit_reserve: fewer round
trips, never more than the limit, refused early within a stated bound); 1 counts every hit in Redis.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Any

from flask import Flask, request
from limits import RateLimitItem, parse_many
from limits.storage import Storage, storage_from_string
from limits.strategies import FixedWindowRateLimiter
from werkzeug.exceptions import TooManyRequests

from reportsvc.web.limit_reserve import Reservations, chunk_for

log = logging.getLogger("reportsvc.web.limits")

KEY_PREFIX = "reportsvc-rl"
#: One limit on a view: the limit string's provider (re-read per request: tests swap settings), the key
#: function (None: the client address) and the scope, which views sharing one budget name alike.
LimitSpec = tuple[Callable[[], str], Callable[[], str] | None, str]


class RateLimited(TooManyRequests):
    """A request over its limit: `description` names the limit, `retry_after` the seconds left in its window."""

    def __init__(self, limit: RateLimitItem, retry_after: int) -> None:
        super().__init__(str(limit))
        self.limit = limit
        self.retry_after = retry_after


@functools.lru_cache(maxsize=64)
def _parsed(text: str) -> tuple[RateLimitItem, ...]:
    """The limits in a limit string, smallest window first; none for "" (a limit switched off)."""
    if not text.strip():
        return ()
    try:
        return tuple(sorted(parse_many(text)))
    except ValueError:  # config refuses these at start-up; a string swapped in later is skipped, loudly
        log.error("rate limit %r cannot be parsed; not applied", text)
        return ()


def client_address() -> str:
    """The client's address as the proxies we trust report it (the default key)."""
    return request.remote_addr or "unknown"


class RateLimits:
    """Redis storage and the fixed-window strategy, bound to the app by `init_app`."""

    def __init__(self) -> None:
        self.storage: Storage | None = None
        self.strategy: FixedWindowRateLimiter | None = None
        self.enabled: Callable[[], bool] = lambda: True
        self.reserve: Callable[[], int] = lambda: 1
        self.reservations = Reservations()

    def init_app(self, app: Flask, *, storage_uri: str, options: dict[str, Any], enabled: Callable[[], bool],
                 reserve: Callable[[], int] = lambda: 1) -> None:
        """Connect the counters to Redis (`storage_uri` and `options` from redis_client.limiter_storage: one
        server or Sentinel's master, the app's timeouts); `enabled` and `reserve` are asked per request
        (RATE_LIMIT_ENABLED, RATE_LIMIT_RESERVE)."""
        storage = storage_from_string(storage_uri, **options)
        assert isinstance(storage, Storage)  # a redis:// or redis+sentinel:// URI: the synchronous storage
        self.storage = storage
        self.strategy = FixedWindowRateLimiter(storage)
        self.enabled = enabled
        self.reserve = reserve

    def check(self, specs: list[LimitSpec], methods: frozenset[str]) -> None:
        """Count this request against each spec's limits; RateLimited at the first one spent."""
        if request.method not in methods:
            return
        self.count(specs, lambda key_func: key_func() if key_func is not None else client_address())

    def count(self, specs: list[LimitSpec], key_of: Callable[[Callable[[], str] | None], str]) -> None:
        """Count one hit against each spec's limits, its key given by `key_of(spec's key function)`;
        RateLimited at the first one spent. (`check` inside a request; the create fast path outside one.)"""
        if self.strategy is None or not self.enabled():
            return
        reserve = self.reserve()
        for provider, key_func, scope in specs:
            key = key_of(key_func)
            if not key:
                continue
            for item in _parsed(provider()):
                retry_after = None
                try:
                    if chunk_for(item, reserve) > 1 and hasattr(self.strategy.storage, "get_connection"):
                        outcome = self.reservations.hit(self.strategy.storage, item,
                                                        item.key_for(KEY_PREFIX, key, scope), reserve)
                        allowed, retry_after = outcome.allowed, outcome.retry_after
                    else:
                        allowed = self.strategy.hit(item, KEY_PREFIX, key, scope)
                except Exception as exc:  # Redis trouble: never refuse a request for it
                    log.warning("rate limit %s (%s) not checked: %s", item, scope, exc)
                    return
                if not allowed:
                    log.info("ratelimit %s (%s) exceeded at endpoint: %s", item, key, scope)
                    raise RateLimited(item, retry_after or self._retry_after(item, key, scope))

    def _retry_after(self, item: RateLimitItem, key: str, scope: str) -> int:
        """Seconds until the spent window resets (read only on a refusal); the window length if unknown."""
        window = item.get_expiry()
        try:
            assert self.strategy is not None
            reset_at = self.strategy.get_window_stats(item, KEY_PREFIX, key, scope).reset_time
            return max(1, min(window, int(reset_at - time.time()) + 1))
        except Exception:  # storage trouble: the window length is a safe upper bound
            return max(1, window)

    def limit(self, view: Callable[..., Any], specs: list[LimitSpec], methods: frozenset[str]) -> Callable[..., Any]:
        """`view`, counted against `specs` on the given methods before it runs."""
        @functools.wraps(view)
        def limited(*args: Any, **kwargs: Any) -> Any:
            self.check(specs, methods)
            return view(*args, **kwargs)

        return limited


limits = RateLimits()
