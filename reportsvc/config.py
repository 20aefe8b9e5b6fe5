"""Settings read from the environment (seed names plus DATABASE_URL / REDIS_URL)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar
from urllib.parse import quote

#: The service's version, shown in the console footer and the OpenAPI document.
VERSION = "0.1.0"

DEFAULT_EMBEDDED_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:54329/reportsvc"
DEFAULT_EMBEDDED_REDIS_URL = "redis://127.0.0.1:63799/0"
#: Upper bound of the RETENTION_*_DAYS settings (100 years; 0 already means forever).
MAX_RETENTION_DAYS = 36500
#: Shortest SECRET_KEY accepted; the suggested `secrets.token_urlsafe(48)` gives 64 characters (384 bits).
MIN_SECRET_KEY_LENGTH = 32
#: Fragments of published placeholder values (compared lower-cased with everything but letters and digits
#: dropped, so "Change-Me", "change_me" and "changeme" all match). A random key contains one by sheer chance
#: with a probability below one in ten million, so real keys are never refused.
PLACEHOLDER_MARKERS = ("changeme", "devonly", "replaceme", "placeholder", "example", "secret", "insecure")
GENERATE_KEY_HINT = 'generate one with: python -c "import secrets; print(secrets.token_urlsafe(48))"'


class ConfigError(ValueError):
    """An environment variable holds a value the service cannot run with."""


@dataclass(frozen=True)
class Settings:
    """Every knob of the service, validated once at start-up."""

    database_url: str
    redis_url: str
    app_port: int = 3000
    app_base_url: str = "http://localhost:3000"
    storage_dir: Path = field(default_factory=lambda: Path("instance/reports"))
    email_host: str | None = None
    email_port: int = 587
    email_user: str | None = None
    email_pass: str | None = field(default=None, repr=False)
    email_from: str = "reportsvc@localhost"
    email_use_tls: bool = False
    email_use_ssl: bool = False
    email_default_to: str | None = None
    report_time_limit_seconds: int = 300
    report_max_retries: int = 3
    report_lock_seconds: int = 60
    heartbeat_interval_seconds: float = 5.0
    max_stalled_count: int = 2
    stall_sweep_interval_seconds: float = 5.0
    reconcile_interval_seconds: float = 30.0
    reconcile_grace_seconds: float = 60.0
    retry_delays_ms: tuple[int, ...] = (2000, 4000, 8000)
    email_max_retries: int = 8
    fault_injection: bool = False
    max_content_length: int = 64 * 1024
    #: SECRET_KEY; None signs sessions with a random key kept in instance/secret_key (web/auth.py).
    secret_key: str | None = field(default=None, repr=False)
    #: REPORTSVC_ENV: a label the console shows in its header (development, staging, production, ...).
    environment: str = "development"
    log_format: str = "text"
    # -- access control and hardening (issue 6) --
    #: GET /metrics without credentials (for a Prometheus scraper inside a trusted network).
    metrics_public: bool = False
    #: Send the session cookie with Secure; None = only when APP_BASE_URL is https.
    session_cookie_secure: bool | None = None
    session_lifetime_hours: int = 12
    #: Flask-Limiter strings ("30/minute;500/hour"); "" switches that limit off.
    rate_limit_report_create: str = "60/minute;1000/hour"
    rate_limit_login_ip: str = "20/minute"
    rate_limit_login_account: str = "10/minute"
    rate_limit_enabled: bool = True
    #: Consecutive failed logins before the account locks; the lock doubles from login_lockout_seconds.
    login_lockout_threshold: int = 5
    login_lockout_seconds: int = 30
    login_lockout_max_seconds: int = 900
    #: `make run` creates an admin with this password on an empty database (else a generated one).
    admin_password: str | None = field(default=None, repr=False)
    #: How long any Redis call (broker and app alike) may wait for a reply before it fails
    #: (REDIS_SOCKET_TIMEOUT_SECONDS); see reportsvc.redis_client.connection_options.
    redis_socket_timeout_seconds: float = 5.0
    # -- database pool and worker data (issue 7) --
    #: Connections each process keeps open (DB_POOL_SIZE). A worker process uses up to one per Dramatiq
    #: thread plus its heartbeat thread; a pool smaller than that makes threads open and close overflow
    #: connections (a PostgreSQL backend fork each) or wait for one.
    db_pool_size: int = 10
    #: Extra connections allowed above the pool under bursts (DB_MAX_OVERFLOW); closed when returned.
    db_max_overflow: int = 20
    #: How long a worker process reuses the operations report's figures (REPORT_DATA_CACHE_SECONDS);
    #: 0 queries for every report. See reportsvc.worker.sources.
    report_data_cache_seconds: float = 5.0
    # -- retention (see reportsvc.ops.retention); 0 keeps forever, and every default is 0: nothing is deleted
    # unless an operator opts in --
    #: Delete the PDF of a READY report this many days after it finished (the row stays, marked expired).
    retention_pdf_days: int = 0
    #: Delete finished reports (READY/FAILED/CANCELLED) with their timeline and file after this many days.
    retention_report_days: int = 0
    #: Delete audit_log rows older than this many days.
    retention_audit_days: int = 0
    #: How often the scheduler runs the purge (only when one of the retention settings is on).
    retention_interval_seconds: float = 3600.0

    @property
    def retention_enabled(self) -> bool:
        """Whether any retention setting asks for deletions."""
        return bool(self.retention_pdf_days or self.retention_report_days or self.retention_audit_days)

    @property
    def cookie_secure(self) -> bool:
        """Secure cookies when asked, or by default when the public URL is https."""
        if self.session_cookie_secure is not None:
            return self.session_cookie_secure
        return self.app_base_url.startswith("https://")

    def sqlalchemy_options(self) -> dict[str, object]:
        """Engine options: pools sized for a worker's threads (see db_pool_size), pre-ping so a restart heals."""
        return {"pool_pre_ping": True, "pool_size": self.db_pool_size, "max_overflow": self.db_max_overflow,
                "pool_recycle": 1800}


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


def _int(env: Mapping[str, str], name: str, default: int, lo: int, hi: int) -> int:
    return _number(env, name, default, lo, hi, int, "a whole number")


def _float(env: Mapping[str, str], name: str, default: float, lo: float, hi: float) -> float:
    return _number(env, name, default, lo, hi, float, "a number")


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
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
        return url
    if env.get("DB_HOST"):
        port = _int(env, "DB_PORT", 5432, 1, 65535)
        user = quote(env.get("DB_USER", "postgres"), safe="")
        password = env.get("DB_PASSWORD")
        auth = f"{user}:{quote(password, safe='')}" if password else user
        name = env.get("DB_NAME", "reportsvc")
        return f"postgresql+psycopg://{auth}@{env['DB_HOST']}:{port}/{name}"
    return DEFAULT_EMBEDDED_DATABASE_URL


def redis_url_from(env: Mapping[str, str]) -> str:
    """REDIS_URL, else one built from REDIS_*, else the embedded default."""
    url = env.get("REDIS_URL")
    if url:
        if not url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError("REDIS_URL must be a redis:// URL")
        return url
    if env.get("REDIS_HOST"):
        port = _int(env, "REDIS_PORT", 6379, 1, 65535)
        password = env.get("REDIS_PASSWORD")
        auth = f":{quote(password, safe='')}@" if password else ""
        return f"redis://{auth}{env['REDIS_HOST']}:{port}/{_int(env, 'REDIS_DB', 0, 0, 9999)}"
    return DEFAULT_EMBEDDED_REDIS_URL


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read and validate settings; raises ConfigError naming the bad variable."""
    env = os.environ if env is None else env
    app_port = _int(env, "APP_PORT", 3000, 1, 65535)
    base_url = env.get("APP_BASE_URL") or f"http://localhost:{app_port}"
    if not base_url.startswith(("http://", "https://")):
        raise ConfigError(f"APP_BASE_URL={base_url!r} must start with http:// or https://")
    delays_raw = env.get("REPORT_RETRY_DELAYS_MS", "2000,4000,8000")
    try:
        delays = tuple(int(part) for part in delays_raw.split(",") if part.strip())
    except ValueError:
        raise ConfigError(f"REPORT_RETRY_DELAYS_MS={delays_raw!r} must be comma-separated integers") from None
    max_retries = _int(env, "REPORT_MAX_RETRIES", 3, 0, 20)
    if len(delays) < max_retries:
        raise ConfigError("REPORT_RETRY_DELAYS_MS needs one delay per retry (REPORT_MAX_RETRIES)")
    log_format = env.get("LOG_FORMAT", "text")
    if log_format not in ("text", "json"):
        raise ConfigError("LOG_FORMAT must be text or json")
    email_from = env.get("EMAIL_FROM") or "reportsvc@localhost"
    lock = _int(env, "REPORT_LOCK_SECONDS", 60, 1, 86400)
    heartbeat = _float(env, "HEARTBEAT_INTERVAL_SECONDS", 5.0, 0.1, 3600)
    if heartbeat * 2 > lock:
        # A claim must be refreshed at least twice per lock period, or healthy reports get swept as stalled.
        raise ConfigError(
            f"HEARTBEAT_INTERVAL_SECONDS={heartbeat:g} must be at most half of REPORT_LOCK_SECONDS={lock}"
        )
    pdf_days, report_days = _retention_days(env)
    return Settings(
        database_url=database_url_from(env),
        redis_url=redis_url_from(env),
        app_port=app_port,
        app_base_url=base_url.rstrip("/"),
        storage_dir=Path(env.get("STORAGE_DIR") or "instance/reports").resolve(),
        email_host=env.get("EMAIL_HOST") or None,
        email_port=_int(env, "EMAIL_PORT", 587, 1, 65535),
        email_user=env.get("EMAIL_USER") or None,
        email_pass=env.get("EMAIL_PASS") or None,
        email_from=email_from,
        email_use_tls=_bool(env, "EMAIL_USE_TLS", False),
        email_use_ssl=_bool(env, "EMAIL_USE_SSL", False),
        email_default_to=env.get("EMAIL_DEFAULT_TO") or None,
        report_time_limit_seconds=_int(env, "REPORT_TIME_LIMIT_SECONDS", 300, 1, 86400),
        report_max_retries=max_retries,
        report_lock_seconds=lock,
        heartbeat_interval_seconds=heartbeat,
        max_stalled_count=_int(env, "MAX_STALLED_COUNT", 2, 0, 100),
        stall_sweep_interval_seconds=_float(env, "STALL_SWEEP_INTERVAL_SECONDS", 5.0, 0.1, 3600),
        reconcile_interval_seconds=_float(env, "RECONCILE_INTERVAL_SECONDS", 30.0, 0.1, 86400),
        reconcile_grace_seconds=_float(env, "RECONCILE_GRACE_SECONDS", 60.0, 0, 86400),
        retry_delays_ms=delays,
        email_max_retries=_int(env, "EMAIL_MAX_RETRIES", 8, 0, 50),
        fault_injection=_bool(env, "REPORTSVC_FAULT_INJECTION", False),
        max_content_length=_int(env, "MAX_CONTENT_LENGTH", 64 * 1024, 1024, 100 * 1024 * 1024),
        secret_key=_secret_key(env),
        environment=env.get("REPORTSVC_ENV", "development"),
        log_format=log_format,
        metrics_public=_bool(env, "METRICS_PUBLIC", False),
        session_cookie_secure=(_bool(env, "SESSION_COOKIE_SECURE", False)
                               if env.get("SESSION_COOKIE_SECURE") else None),
        session_lifetime_hours=_int(env, "SESSION_LIFETIME_HOURS", 12, 1, 24 * 90),
        rate_limit_report_create=_limit(env, "RATE_LIMIT_REPORT_CREATE", "60/minute;1000/hour"),
        rate_limit_login_ip=_limit(env, "RATE_LIMIT_LOGIN_IP", "20/minute"),
        rate_limit_login_account=_limit(env, "RATE_LIMIT_LOGIN_ACCOUNT", "10/minute"),
        rate_limit_enabled=_bool(env, "RATE_LIMIT_ENABLED", True),
        login_lockout_threshold=_int(env, "LOGIN_LOCKOUT_THRESHOLD", 5, 1, 1000),
        login_lockout_seconds=_int(env, "LOGIN_LOCKOUT_SECONDS", 30, 1, 86400),
        login_lockout_max_seconds=_int(env, "LOGIN_LOCKOUT_MAX_SECONDS", 900, 1, 7 * 86400),
        admin_password=_admin_password(env),
        redis_socket_timeout_seconds=_float(env, "REDIS_SOCKET_TIMEOUT_SECONDS", 5.0, 0.1, 300),
        db_pool_size=_int(env, "DB_POOL_SIZE", 10, 1, 1000),
        db_max_overflow=_int(env, "DB_MAX_OVERFLOW", 20, 0, 1000),
        report_data_cache_seconds=_float(env, "REPORT_DATA_CACHE_SECONDS", 5.0, 0, 3600),
        retention_pdf_days=pdf_days,
        retention_report_days=report_days,
        retention_audit_days=_int(env, "RETENTION_AUDIT_DAYS", 0, 0, MAX_RETENTION_DAYS),
        retention_interval_seconds=_float(env, "RETENTION_INTERVAL_SECONDS", 3600.0, 1, 7 * 86400),
    )


def _retention_days(env: Mapping[str, str]) -> tuple[int, int]:
    """RETENTION_PDF_DAYS and RETENTION_REPORT_DAYS, checked against each other."""
    pdf_days = _int(env, "RETENTION_PDF_DAYS", 0, 0, MAX_RETENTION_DAYS)
    report_days = _int(env, "RETENTION_REPORT_DAYS", 0, 0, MAX_RETENTION_DAYS)
    if pdf_days and report_days and report_days < pdf_days:
        # Deleting a report deletes its PDF: a shorter report period would silently override the PDF one.
        raise ConfigError(f"RETENTION_REPORT_DAYS={report_days} must be at least RETENTION_PDF_DAYS={pdf_days} "
                          "(a deleted report takes its PDF with it); raise it or set it to 0 to keep reports")
    return pdf_days, report_days


def placeholder_marker(value: str) -> str | None:
    """The placeholder fragment `value` contains ("changeme" for "Change-Me-In-Production"), else None."""
    folded = re.sub(r"[^a-z0-9]", "", value.lower())
    return next((marker for marker in PLACEHOLDER_MARKERS if marker in folded), None)


def _secret_key(env: Mapping[str, str]) -> str | None:
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


def _admin_password(env: Mapping[str, str]) -> str | None:
    """REPORTSVC_ADMIN_PASSWORD if set, refused when it is a published placeholder (length rules: accounts)."""
    password = env.get("REPORTSVC_ADMIN_PASSWORD") or None
    marker = placeholder_marker(password) if password else None
    if marker:
        raise ConfigError(f"REPORTSVC_ADMIN_PASSWORD looks like a placeholder (it contains {marker!r}); choose a "
                          "real password, or unset it to have one generated and printed once")
    return password


def _limit(env: Mapping[str, str], name: str, default: str) -> str:
    """A Flask-Limiter limit string; "", "0", "off" or "none" switch it off."""
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


_active: Settings | None = None


def use_settings(settings: Settings) -> None:
    """Make settings the process-wide active ones (create_app calls this)."""
    global _active
    _active = settings


def get_settings() -> Settings:
    """The active settings, loaded from the environment on first use."""
    global _active
    if _active is None:
        _active = load_settings()
    return _active
