"""One shared Redis client for the app's own reads (queue views, health, locks), and the timeouts every
Redis connection of the service uses (this client and the Dramatiq broker's)."""

from __future__ import annotations

from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

#: Seconds to open a TCP connection; a Redis on the same network answers in milliseconds.
CONNECT_TIMEOUT_SECONDS = 2.0
#: A connection idle this long is PINGed before its next command, so a half-open one (a Redis that vanished
#: behind a NAT or a failover) is found before a non-idempotent command such as an enqueue is written to it.
HEALTH_CHECK_INTERVAL_SECONDS = 30

_clients: dict[str, redis.Redis] = {}
_default_url: str | None = None


def connection_options(socket_timeout: float) -> dict[str, Any]:
    """Timeouts for a Redis connection pool: a silent Redis fails a call after `socket_timeout` s, never hangs it."""
    # Nothing the service sends blocks server-side (no BLPOP/WAIT; Dramatiq's commands are short Lua scripts),
    # so a reply that takes seconds means a dead or unreachable Redis, not a slow command.
    return {
        "socket_timeout": socket_timeout,
        "socket_connect_timeout": min(CONNECT_TIMEOUT_SECONDS, socket_timeout),
        "health_check_interval": HEALTH_CHECK_INTERVAL_SECONDS,
        # Never retried by redis-py (its default, said explicitly: versions differ): a timed-out enqueue may
        # have run, and a silent retry would queue the report twice; callers decide what a failure means.
        "retry": Retry(NoBackoff(), 0),
    }


def configure(url: str) -> None:
    """Set the URL get_redis() connects to."""
    global _default_url
    _default_url = url


def get_redis(url: str | None = None) -> redis.Redis:
    """A pooled client for url (default: the configured one); short timeouts so a dead Redis fails fast."""
    target = url or _default_url
    if target is None:
        raise RuntimeError("Redis URL is not configured; call redis_client.configure() first")
    client = _clients.get(target)
    if client is None:
        from reportsvc.config import get_settings

        options = connection_options(get_settings().redis_socket_timeout_seconds)
        client = redis.Redis.from_url(target, **options)
        _clients[target] = client
    return client
