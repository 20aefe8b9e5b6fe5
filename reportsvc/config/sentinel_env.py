"""Reading REDIS_SENTINELS, REDIS_SENTINEL_MASTER and REDIS_SENTINEL_PASSWORD into a SentinelSettings.

Every bad value of the block is reported, one line each, in a single ConfigError: an operator fixing a
Sentinel deployment sees all of what is wrong at once, not one line per restart.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from reportsvc.config.env import whole
from reportsvc.config.sentinel import SentinelSettings
from reportsvc.config.settings import ConfigError

#: A DNS name or an IPv4 address (an IPv6 one is written in brackets: [::1]:26379).
_HOST = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9])?$")
_IPV6 = re.compile(r"^[0-9A-Fa-f:.]+$")
_MASTER_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


def _endpoint(entry: str) -> tuple[tuple[str, int] | None, str | None]:
    """(host, port) of one REDIS_SENTINELS entry, or the reason it is not one."""
    if entry.startswith("["):
        host, bracket, rest = entry[1:].partition("]")
        if not bracket or not _IPV6.match(host) or not rest.startswith(":"):
            return None, f"{entry!r} is not host:port ([address]:port for IPv6)"
        port_text = rest[1:]
    else:
        host, colon, port_text = entry.rpartition(":")
        if not colon:
            return None, f"{entry!r} has no port (host:port; Sentinel listens on 26379 unless told otherwise)"
        if not _HOST.match(host):
            return None, f"{entry!r} does not start with a host name or address"
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        return None, f"{entry!r} has a port that is not a number in 1..65535"
    return (host, int(port_text)), None


def _sentinels(raw: str, problems: list[str]) -> tuple[tuple[str, int], ...]:
    found: list[tuple[str, int]] = []
    for entry in (part.strip() for part in raw.split(",")):
        if not entry:
            problems.append(f"REDIS_SENTINELS={raw!r} has an empty entry (a stray comma?)")
            continue
        endpoint, problem = _endpoint(entry)
        if problem:
            problems.append(f"REDIS_SENTINELS: {problem}")
        elif endpoint in found:
            problems.append(f"REDIS_SENTINELS lists {entry} twice")
        elif endpoint is not None:
            found.append(endpoint)
    return tuple(found)


def sentinel_settings(env: Mapping[str, str]) -> SentinelSettings:
    """The Sentinel block; disabled when REDIS_SENTINELS is unset. ConfigError lists every bad value."""
    raw = (env.get("REDIS_SENTINELS") or "").strip()
    master = (env.get("REDIS_SENTINEL_MASTER") or "").strip()
    sentinel_password = env.get("REDIS_SENTINEL_PASSWORD") or None
    if not raw:
        stray = [name for name, value in (("REDIS_SENTINEL_MASTER", master),
                                          ("REDIS_SENTINEL_PASSWORD", sentinel_password)) if value]
        if stray:
            raise ConfigError("\n".join(f"{name} is set but REDIS_SENTINELS is not: list the sentinels "
                                        "(REDIS_SENTINELS=host:port,host:port,...) or unset it" for name in stray))
        return SentinelSettings()
    problems: list[str] = []
    sentinels = _sentinels(raw, problems)
    if not master:
        problems.append("REDIS_SENTINELS is set but REDIS_SENTINEL_MASTER is not: name the master as the "
                        "sentinels monitor it (`sentinel monitor <name> <host> <port> <quorum>`)")
    elif not _MASTER_NAME.match(master):
        problems.append(f"REDIS_SENTINEL_MASTER={master!r} must be a Sentinel master name "
                        "(letters, digits, '.', '_' and '-')")
    for name in ("REDIS_URL", "REDIS_HOST"):
        if (env.get(name) or "").strip():
            problems.append(f"{name} is set as well as REDIS_SENTINELS: {name} names one server, REDIS_SENTINELS "
                            "asks Sentinel for the master; unset one (REDIS_PASSWORD and REDIS_DB apply to the "
                            "master Sentinel names)")
    try:
        db = whole(env, "REDIS_DB", 0, 0, 9999)
    except ConfigError as exc:
        problems.append(str(exc))
        db = 0
    if problems:
        raise ConfigError("\n".join(problems))
    return SentinelSettings(sentinels=sentinels, master=master, sentinel_password=sentinel_password,
                            password=env.get("REDIS_PASSWORD") or None, db=db)
