"""The settings every process runs with: one frozen dataclass, and the constants its checks use."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from reportsvc.config.guard import GuardSettings
from reportsvc.config.hotpath import HotPathSettings
from reportsvc.config.push import PushSettings
from reportsvc.config.sentinel import SentinelSettings
from reportsvc.config.storage import StorageSettings

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
    """An environment variable holds a value the service cannot run with (one line per bad value)."""

    def report(self, prefix: str) -> str:
        """Every line of the message behind `prefix`, so each bad value reads as a complete line of its own."""
        return "\n".join(f"{prefix}{line}" for line in str(self).splitlines())


@dataclass(frozen=True)
class Settings:
    """Every knob of the service, validated once at start-up."""

    database_url: str
    #: REDIS_URL (one server), or with REDIS_SENTINELS the `redis+sentinel://` form of `sentinel.url()`;
    #: reportsvc.redis_client is what connects either way.
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
    #: limit strings of the `limits` library ("30/minute;500/hour"); "" switches that limit off.
    rate_limit_report_create: str = "60/minute;1000/hour"
    rate_limit_login_ip: str = "20/minute"
    rate_limit_login_account: str = "10/minute"
    rate_limit_enabled: bool = True
    #: RATE_LIMIT_RESERVE: hits of a limit a web process takes from Redis in one round trip and spends locally
    #: (capped at a twentieth of the limit); a client may be refused up to processes x (chunk - 1) requests
    #: before its limit, never let past it. 1 counts every hit in Redis, exact, as before issue 16.
    rate_limit_reserve: int = 10
    #: TOKEN_CACHE_SECONDS: how long a web process trusts a bearer token's owner and role without re-reading
    #: them (revoking, disabling or demoting clears the acting process's cache at once; the other processes
    #: follow within this many seconds). 0 reads them on every request, as before issue 16.
    token_cache_seconds: float = 5.0
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
    #: Webhooks, alerts and the console's event stream (issue 18): reportsvc/config/push.py.
    push: PushSettings = field(default_factory=PushSettings)
    #: Proxies, sign-in slow-down, session lifetime (issue 15): reportsvc/config/guard.py.
    guard: GuardSettings = field(default_factory=GuardSettings)
    #: Pool checkout and per-job worker overheads (issue 16): reportsvc/config/hotpath.py.
    hotpath: HotPathSettings = field(default_factory=HotPathSettings)
    # -- report types' data (issue 12; see reportsvc.worker.readonly and reportsvc.reports.datasets) --
    #: Where report types read from (REPORT_SOURCE_DATABASE_URL); None: reportsvc's own database.
    report_source_database_url: str | None = field(default=None, repr=False)
    #: statement_timeout of a report's query (REPORT_QUERY_TIMEOUT_SECONDS).
    report_query_timeout_seconds: int = 60
    #: Rows a report's query may return; the report says it was cut (REPORT_MAX_ROWS).
    report_max_rows: int = 100_000
    #: The table report's datasets (REPORT_DATASETS_FILE), reloaded when it changes.
    report_datasets_file: Path = field(default_factory=lambda: Path("instance/datasets.toml"))
    # -- schedules (see reportsvc.ops.schedules) --
    #: How often each scheduler process looks for due schedules (SCHEDULE_POLL_SECONDS).
    schedule_poll_seconds: float = 5.0
    #: At most this many due schedules per poll and transaction (SCHEDULE_BATCH_SIZE); the rest wait a poll.
    schedule_batch_size: int = 50
    #: A slot this late or less is on time, not missed: `misfire=skip` still makes it
    #: (SCHEDULE_MISFIRE_GRACE_SECONDS).
    schedule_misfire_grace_seconds: float = 120.0
    # -- each report's own log (issue 17; see reportsvc.worker.report_log) --
    #: Log lines kept per report across its attempts (REPORT_LOG_LINES); past it, "N lines dropped".
    report_log_lines: int = 500
    #: STORAGE_BACKEND and the S3 settings (issue 14; see reportsvc.config.storage).
    storage: StorageSettings = field(default_factory=StorageSettings)
    #: REDIS_SENTINELS and the master's name (issue 14; see reportsvc.config.sentinel, reportsvc.redis_client).
    sentinel: SentinelSettings = field(default_factory=SentinelSettings)

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
        """Engine options: pools sized for a worker's threads (see db_pool_size), pinged so a restart heals.

        With DB_PING_IDLE_SECONDS > 0 the ping is reportsvc.state.pool's (only after idle), not pool_pre_ping."""
        return {"pool_pre_ping": self.hotpath.db_ping_idle_seconds <= 0, "pool_size": self.db_pool_size,
                "max_overflow": self.db_max_overflow,
                "pool_recycle": 1800}
