"""One shared Redis client for the app's own reads (queue views, health, locks)."""

from __future__ import annotations

import redis

_clients: dict[str, redis.Redis] = {}
_default_url: str | None = None


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
        client = redis.Redis.from_url(target, socket_timeout=5, socket_connect_timeout=2, health_check_interval=30)
        _clients[target] = client
    return client
