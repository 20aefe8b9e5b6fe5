"""Real worker/scheduler subprocesses for fault tests, plus an in-process sweeper loop."""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

from reportsvc.config import Settings

ROOT = Path(__file__).resolve().parents[2]


def process_env(settings: Settings, **extra: str) -> dict[str, str]:
    """Environment for a worker/scheduler subprocess matching the test settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DB_", "REDIS_", "EMAIL_"))}
    env.update(redis_env(settings))
    env.update({
        "DATABASE_URL": settings.database_url,
        "STORAGE_DIR": str(settings.storage_dir),
        "REPORTSVC_FAULT_INJECTION": "1" if settings.fault_injection else "0",
        "REPORT_LOCK_SECONDS": str(settings.report_lock_seconds),
        "HEARTBEAT_INTERVAL_SECONDS": str(settings.heartbeat_interval_seconds),
        "STALL_SWEEP_INTERVAL_SECONDS": str(settings.stall_sweep_interval_seconds),
        "RECONCILE_INTERVAL_SECONDS": str(settings.reconcile_interval_seconds),
        "RECONCILE_GRACE_SECONDS": str(settings.reconcile_grace_seconds),
        "MAX_STALLED_COUNT": str(settings.max_stalled_count),
        "REPORT_RETRY_DELAYS_MS": ",".join(str(d) for d in settings.retry_delays_ms),
        "REPORT_MAX_RETRIES": str(settings.report_max_retries),
        "REPORT_TIME_LIMIT_SECONDS": str(settings.report_time_limit_seconds),
        "PYTHONUNBUFFERED": "1",
        "APP_BASE_URL": settings.app_base_url or "",
    })
    env.update({  # the hot-path settings of the test's Settings (EMAIL_* is not inherited from this process)
        "EMAIL_INLINE": "1" if settings.hotpath.email_inline else "0",
        "WORKER_LOG_LINES": settings.hotpath.worker_log_lines,
        "WORKER_METRICS_BUFFERED": "1" if settings.hotpath.worker_metrics_buffered else "0",
        "WORKER_DIRECT_SQL": "1" if settings.hotpath.worker_direct_sql else "0",
        "LIVE_UPDATE_BATCH_MS": str(settings.hotpath.live_update_batch_ms),
        "REPORT_LOG_BATCH_MS": str(settings.hotpath.report_log_batch_ms),
    })
    if settings.email_host:  # email on: the worker sends the READY notice to the test's SMTP server
        env.update({"EMAIL_HOST": settings.email_host, "EMAIL_PORT": str(settings.email_port)})
    env.update(extra)
    return env


def redis_env(settings: Settings) -> dict[str, str]:
    """REDIS_URL, or the REDIS_SENTINELS block, that a child process loads back into these settings' Redis."""
    sentinel = settings.sentinel
    if not sentinel.enabled:
        return {"REDIS_URL": settings.redis_url}
    env = {"REDIS_SENTINELS": ",".join(f"{host}:{port}" for host, port in sentinel.sentinels),
           "REDIS_SENTINEL_MASTER": sentinel.master, "REDIS_DB": str(sentinel.db)}
    for name, value in (("REDIS_SENTINEL_PASSWORD", sentinel.sentinel_password), ("REDIS_PASSWORD", sentinel.password)):
        if value:
            env[name] = value
    return env


@dataclass
class Proc:
    """A child process in its own session, so a kill reaches its forked workers too."""

    args: list[str]
    env: dict[str, str]
    log_path: Path
    cwd: Path = ROOT
    popen: subprocess.Popen[bytes] | None = None
    _log: Any = field(default=None, repr=False)

    def start(self) -> Self:
        """Launch it, logging to log_path."""
        self._log = self.log_path.open("ab")
        self.popen = subprocess.Popen(self.args, cwd=self.cwd, env=self.env, stdout=self._log,
                                      stderr=subprocess.STDOUT, start_new_session=True)
        return self

    def kill(self) -> None:
        """SIGKILL the whole process group: a worker host vanishing."""
        if self.popen and self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(10)

    def stop_gracefully(self, timeout: float) -> int:
        """SIGTERM the main process and return its exit code; fails (never falls back to SIGKILL) if it does
        not exit within `timeout` seconds."""
        assert self.popen is not None and self.popen.poll() is None, "not running"
        self.popen.send_signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            tail = self.log_text()[-3000:]
            raise AssertionError(f"no graceful stop within {timeout} s of SIGTERM:\n{tail}") from None

    def children(self) -> list[int]:
        """Pids of the processes it forked (a `dramatiq` main process forks its worker processes)."""
        import psutil

        assert self.popen is not None
        return [c.pid for c in psutil.Process(self.popen.pid).children(recursive=True)]

    def terminate(self, timeout: float = 30) -> int | None:
        """SIGTERM the main process and wait for a graceful exit."""
        if self.popen and self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                return self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.popen.returncode if self.popen else None

    def log_text(self) -> str:
        """Everything it printed so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def worker_proc(settings: Settings, log_path: Path, threads: int = 4) -> Proc:
    """`dramatiq reportsvc.tasks` with one process."""
    args = [sys.executable, "-m", "dramatiq", "reportsvc.tasks", "--processes", "1", "--threads", str(threads)]
    return Proc(args, process_env(settings), log_path)


def web_proc(settings: Settings, log_path: Path, port: int, **extra: str) -> Proc:
    """`flask --app app run` on `port` (threaded, no reloader)."""
    args = [sys.executable, "-m", "flask", "--app", "app", "run", "--port", str(port), "--no-reload"]
    return Proc(args, process_env(settings, **extra), log_path)


def scheduler_proc(settings: Settings, log_path: Path) -> Proc:
    """`flask --app app scheduler`."""
    args = [sys.executable, "-m", "flask", "--app", "app", "scheduler"]
    return Proc(args, process_env(settings), log_path)


class SweeperLoop(threading.Thread):
    """The scheduler's two recovery jobs on a timer, inside this process (for tests that need no CLI)."""

    def __init__(self, app: Any, settings: Settings, interval: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.app, self.settings, self.interval = app, settings, interval
        self.stop_event = threading.Event()
        self.errors: list[str] = []

    def run(self) -> None:
        """Sweep and reconcile until stopped; errors are kept (a stopped database is expected in some tests)."""
        from reportsvc.ops import sweeper
        from reportsvc.redis_client import get_redis

        while not self.stop_event.wait(self.interval):
            try:
                with self.app.app_context():
                    sweeper.sweep_stalled(get_redis(), self.settings)
                    sweeper.reconcile_orphans(get_redis(), self.settings)
            except Exception as exc:
                self.errors.append(repr(exc))

    def stop(self) -> None:
        """Stop and join."""
        self.stop_event.set()
        self.join(10)


def running_reports(app) -> list[tuple[str, str, bool]]:  # type: ignore[no-untyped-def]
    """(report id, worker, beat since its claim) of every RUNNING report."""
    from sqlalchemy import text

    from reportsvc.extensions import db

    with app.app_context():
        rows = db.session.execute(text(
            "SELECT id, worker, heartbeat_at > started_at AS beat FROM report_requests WHERE status = 'RUNNING'"
        )).all()
        db.session.rollback()
    return [(str(r.id), r.worker, bool(r.beat)) for r in rows]


def worker_ids(proc) -> set[str]:  # type: ignore[no-untyped-def]
    """The `host:pid` ids the worker processes of a `dramatiq` subprocess claim reports under."""
    host = socket.gethostname()
    return {f"{host}:{pid}" for pid in proc.children()}


def stored_files(settings) -> list[str]:  # type: ignore[no-untyped-def]
    """Every file under storage (temporary ones included), relative."""
    return sorted(str(p.relative_to(settings.storage_dir)) for p in settings.storage_dir.rglob("*") if p.is_file())


def assert_published_once(client, settings, ids) -> None:  # type: ignore[no-untyped-def]
    """Exactly one PDF per report (stored as <report_id>/<run_id>.pdf) and nothing else on disk, each matching
    the checksum its row records."""
    files = stored_files(settings)
    assert sorted(f.split("/", 1)[0] for f in files) == sorted(ids) and all(f.endswith(".pdf") for f in files)
    for rid, name in zip(sorted(ids), files, strict=True):
        body = client.get(f"/reports/{rid}").get_json()
        data = (settings.storage_dir / name).read_bytes()
        assert body["file_sha256"] == hashlib.sha256(data).hexdigest() and body["file_size"] == len(data), rid
