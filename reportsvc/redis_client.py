"""Every Redis connection of the service is made here: the app's shared client (queue views, health, locks,
metrics, pub/sub), the Dramatiq broker's pool and the rate limiter's storage, with the same timeouts.

Redis is either one server (REDIS_URL) or a master that Sentinel names (REDIS_SENTINELS): then each new
connection asks the sentinels where the master is, so after a failover a client reaches the promoted
replica without a restart. Whoever makes a connection anywhere else would keep talking to a dead master.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from redis.sentinel import Sentinel, SentinelConnectionPool

from reportsvc.config.sentinel import SentinelSettings

if TYPE_CHECKING:
    from reportsvc.config import Settings

#: Seconds to open a TCP connection; a Redis on the same network answers in milliseconds.
CONNECT_TIMEOUT_SECONDS = 2.0
#: A connection idle this long is PINGed before its next command, so a half-open one (a Redis that vanished
#: behind a NAT or a failover) is found before a non-idempotent command such as an enqueue is written to it.
HEALTH_CHECK_INTERVAL_SECONDS = 30


@dataclass(frozen=True)
class RedisTarget:
    """Where the service's Redis is (one server's URL, or Sentinel's master) and how long a call may wait."""

    url: str
    sentinel: SentinelSettings
    socket_timeout: float

    @classmethod
    def of(cls, settings: Settings) -> RedisTarget:
        """The target the settings name."""
        return cls(settings.redis_url, settings.sentinel, settings.redis_socket_timeout_seconds)


_clients: dict[RedisTarget, redis.Redis] = {}
_default: RedisTarget | None = None


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
        # The same holds during a failover: a command the old master took but never answered is not re-sent
        # to the new one; what the failover lost, the reconciler re-sends from PostgreSQL.
        "retry": Retry(NoBackoff(), 0),
    }


def _sentinel_options(target: RedisTarget) -> dict[str, Any]:
    """How to reach the sentinels themselves: the same timeouts, their own password, no retry."""
    # A sentinel that does not answer is skipped for the next one by master discovery; a retry would only
    # multiply its timeout.
    return {"socket_timeout": target.socket_timeout,
            "socket_connect_timeout": min(CONNECT_TIMEOUT_SECONDS, target.socket_timeout),
            "password": target.sentinel.sentinel_password, "retry": Retry(NoBackoff(), 0)}


def _master_options(target: RedisTarget) -> dict[str, Any]:
    """connection_options plus the master's own password and database."""
    return {**connection_options(target.socket_timeout), "password": target.sentinel.password,
            "db": target.sentinel.db}


def new_pool(target: RedisTarget) -> redis.ConnectionPool:
    """A connection pool of its own (the broker's): to REDIS_URL, or to whichever server Sentinel calls master."""
    if not target.sentinel.enabled:
        return redis.ConnectionPool.from_url(target.url, **connection_options(target.socket_timeout))
    manager = Sentinel(list(target.sentinel.sentinels), sentinel_kwargs=_sentinel_options(target))
    # Each new connection asks the sentinels for the master; when the answer changes, redis-py drops the idle
    # connections to the old one, and a connection that finds its server demoted (READONLY) reconnects.
    return SentinelConnectionPool(target.sentinel.master, manager, **_master_options(target))


def client_for(target: RedisTarget) -> redis.Redis:
    """The process's shared client for `target` (one pool per target)."""
    client = _clients.get(target)
    if client is None:
        client = _clients.setdefault(target, redis.Redis(connection_pool=new_pool(target)))
    return client


def limiter_storage(settings: Settings) -> tuple[str, dict[str, Any]]:
    """The rate limiter's storage URI and options (`limits.storage_from_string`) for the same Redis."""
    target = RedisTarget.of(settings)
    if not target.sentinel.enabled:
        return target.url, connection_options(target.socket_timeout)
    # limits' `redis+sentinel://` storage builds redis-py's Sentinel from these: `sentinel_kwargs` for the
    # sentinels (given in full, or it would hand the master's password to them), the rest for the master.
    # Counters are read from the master too (use_replicas off): a replica's lag would under-count a window.
    return target.url, {**_master_options(target), "sentinel_kwargs": _sentinel_options(target),
                        "use_replicas": False}


def configure(settings: Settings) -> None:
    """Point get_redis() at the Redis the settings name (create_app calls this)."""
    global _default
    _default = RedisTarget.of(settings)


def get_redis() -> redis.Redis:
    """The configured Redis's pooled client; short timeouts so a dead Redis fails fast."""
    if _default is None:
        raise RuntimeError("Redis is not configured; call redis_client.configure() first")
    return client_for(_default)
