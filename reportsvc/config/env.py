"""Reading one environment variable: numbers in range, switches, URLs, limits and secrets, each refused with a
ConfigError that names the variable."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TypeVar
from urllib.parse import quote

from reportsvc.config.settings import (
    DEFAULT_EMBEDDED_DATABASE_URL,
    DEFAULT_EMBEDDED_REDIS_URL,
    GENERATE_KEY_HINT,
    MIN_SECRET_KEY_LENGTH,
    PLACEHOLDER_MARKERS,
    ConfigError,
)

_N = TypeVar("_N", int, float)


def _number(env: Mapping[str, str], name: str, default: _N, lo: _N, hi: _N, cast: type[_N], kind: str) -> _N:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = cast(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not {kind}") from None
    if not lo <= value <= hi:
        raise ConfigError(f"{name}={value} is out of range {lo}..{hi}")
    return value


def whole(env: Mapping[str, str], name: str, default: int, lo: int, hi: int) -> int:
    """A whole number in lo..hi from `name`, or `default` when unset."""
    return _number(env, name, default, lo, hi, int, "a whole number")


def decimal(env: Mapping[str, str], name: str, default: float, lo: float, hi: float) -> float:
    """A number in lo..hi from `name`, or `default` when unset."""
    return _number(env, name, default, lo, hi, float, "a number")


def flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    """A switch (1/0, true/false, yes/no, on/off) from `name`, or `default` when unset or empty."""
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}={raw!r} is not a boolean (use 1/0, true/false)")


def database_url_from(env: Mapping[str, str]) -> str:
    """DATABASE_URL, else one built from DB_*, else the embedded default."""
    url = env.get("DATABASE_URL")
    if url:
        if url.startswith("postgres://"):
            url = "postgresql://" + url[len("postgres://"):]
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://"):]
        if not url.startswith("postgresql+psycopg://"):
            raise ConfigError("DATABASE_URL must be a postgresql:// URL")
        return multi_host_url(url)
    if env.get("DB_HOST"):
        port = whole(env, "DB_PORT", 5432, 1, 65535)
        user = quote(env.get("DB_USER", "postgres"), safe="")
        password = env.get("DB_PASSWORD")
        auth = f"{user}:{quote(password, safe='')}" if password else user
        name = env.get("DB_NAME", "reportsvc")
        return f"postgresql+psycopg://{auth}@{env['DB_HOST']}:{port}/{name}"
    return DEFAULT_EMBEDDED_DATABASE_URL


def multi_host_url(url: str) -> str:
    """libpq's multi-host form (`//user@h1:5432,h2:5432/db?target_session_attrs=read-write`) in the form
    SQLAlchemy parses (`//user@/db?host=h1:5432&host=h2:5432&...`); psycopg then tries the hosts in order."""
    scheme, rest = url.split("://", 1)
    netloc, slash, tail = rest.partition("/")
    auth, at, hosts = netloc.rpartition("@")
    if "," not in hosts:
        return url
    path, question, query = tail.partition("?")
    listed = "&".join(f"host={quote(host.strip(), safe=':[]')}" for host in hosts.split(",") if host.strip())
    return f"{scheme}://{auth}{at}/{path}?{listed}" + (f"&{query}" if query else "")


def redis_url_from(env: Mapping[str, str]) -> str:
    """REDIS_URL, else one built from REDIS_*, else the embedded default."""
    url = env.get("REDIS_URL")
    if url:
        if not url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError("REDIS_URL must be a redis:// URL")
        return url
    if env.get("REDIS_HOST"):
        port = whole(env, "REDIS_PORT", 6379, 1, 65535)
        password = env.get("REDIS_PASSWORD")
        auth = f":{quote(password, safe='')}@" if password else ""
        return f"redis://{auth}{env['REDIS_HOST']}:{port}/{whole(env, 'REDIS_DB', 0, 0, 9999)}"
    return DEFAULT_EMBEDDED_REDIS_URL


def placeholder_marker(value: str) -> str | None:
    """The placeholder fragment `value` contains ("changeme" for "Change-Me-In-Production"), else None."""
    folded = re.sub(r"[^a-z0-9]", "", value.lower())
    return next((marker for marker in PLACEHOLDER_MARKERS if marker in folded), None)


def secret_key(env: Mapping[str, str]) -> str | None:
    """SECRET_KEY if set, refused when guessable; None (unset or empty) means the generated per-host key."""
    key = env.get("SECRET_KEY")
    if not key:
        return None
    # Sessions are signed "<user id>:<auth epoch>": whoever knows the key can sign themselves an admin session.
    marker = placeholder_marker(key)
    if marker:
        raise ConfigError(f"SECRET_KEY looks like a placeholder (it contains {marker!r}) and would let anyone "
                          f"sign a session; {GENERATE_KEY_HINT} (or unset SECRET_KEY on a single host to use a "
                          "generated key kept in instance/secret_key)")
    if len(key) < MIN_SECRET_KEY_LENGTH:
        raise ConfigError(f"SECRET_KEY is {len(key)} characters long; it needs at least {MIN_SECRET_KEY_LENGTH} "
                          f"random ones: {GENERATE_KEY_HINT}")
    if len(set(key)) < 8:  # "aaaa…" passes the length test but is no secret
        raise ConfigError(f"SECRET_KEY repeats a handful of characters; {GENERATE_KEY_HINT}")
    return key


def admin_password(env: Mapping[str, str]) -> str | None:
    """REPORTSVC_ADMIN_PASSWORD if set, refused when it is a published placeholder (length rules: accounts)."""
    password = env.get("REPORTSVC_ADMIN_PASSWORD") or None
    marker = placeholder_marker(password) if password else None
    if marker:
        raise ConfigError(f"REPORTSVC_ADMIN_PASSWORD looks like a placeholder (it contains {marker!r}); choose a "
                          "real password, or unset it to have one generated and printed once")
    return password


def rate_limit(env: Mapping[str, str], name: str, default: str) -> str:
    """A rate limit string (the `limits` library's); "", "0", "off" or "none" switch it off."""
    raw = env.get(name)
    if raw is None:
        return default
    raw = raw.strip()
    if raw.lower() in ("", "0", "off", "none"):
        return ""
    from limits import parse_many

    try:
        parse_many(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a rate limit (e.g. 30/minute or 10 per second;500/hour)") from None
    return raw
