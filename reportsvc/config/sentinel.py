"""Where Redis Sentinel is: the REDIS_SENTINELS / REDIS_SENTINEL_* block of the settings (read by
config.sentinel_env)."""

from __future__ import annotations

from dataclasses import dataclass, field

#: The scheme of the URL that names a Sentinel-managed master (the form the `limits` library reads too).
SENTINEL_SCHEME = "redis+sentinel"


@dataclass(frozen=True)
class SentinelSettings:
    """The sentinels to ask for the master, and how to talk to it; no sentinels: REDIS_URL names one server."""

    #: (host, port) of every sentinel, in the order given.
    sentinels: tuple[tuple[str, int], ...] = ()
    #: The name the sentinels monitor the master under (`sentinel monitor <name> ...`).
    master: str = ""
    #: AUTH for the sentinels themselves (REDIS_SENTINEL_PASSWORD).
    sentinel_password: str | None = field(default=None, repr=False)
    #: AUTH for the master and its replicas (REDIS_PASSWORD).
    password: str | None = field(default=None, repr=False)
    #: Logical database on the master (REDIS_DB).
    db: int = 0

    @property
    def enabled(self) -> bool:
        """Whether the master is found through Sentinel."""
        return bool(self.sentinels)

    def url(self) -> str:
        """`redis+sentinel://h1:p1,h2:p2/<master>`: what Settings.redis_url says (no password in it)."""
        hosts = ",".join(f"[{host}]:{port}" if ":" in host else f"{host}:{port}" for host, port in self.sentinels)
        return f"{SENTINEL_SCHEME}://{hosts}/{self.master}"
