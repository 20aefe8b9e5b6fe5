"""Shared-nothing, proven: web, two workers and the scheduler as separate processes, each in its own working
directory with its own STORAGE_DIR, HOME and TMPDIR (no common data path), sharing only PostgreSQL, Redis and
the S3 server. Reports created through the web process's API download byte-identical from it, and a kill -9
of one worker still ends every report READY exactly once."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import sys
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest

from reportsvc.dev.engine_base import free_port
from tests.chaos.harness import Proc
from tests.conftest import ROOT, TEST_OPERATOR, wait_for


class Host(Proc):
    """One process in a directory of its own, as if on its own machine."""

    def __init__(self, name: str, base: Path, args: list[str], env: dict[str, str]) -> None:
        self.name, self.dir = name, base / name
        for sub in ("reports", "home", "tmp"):
            (self.dir / sub).mkdir(parents=True)
        super().__init__(args=args, env={**env, "STORAGE_DIR": str(self.dir / "reports"),
                                         "HOME": str(self.dir / "home"), "TMPDIR": str(self.dir / "tmp")},
                         log_path=self.dir / "process.log", cwd=self.dir)

    def pids(self) -> set[int]:
        """The main process and everything it forked."""
        assert self.popen is not None
        return {self.popen.pid, *self.children()}


@pytest.fixture
def hosts(tmp_path: Path, engines, s3_server) -> Any:  # type: ignore[no-untyped-def]
    """A factory of processes that share no filesystem path (all killed at teardown)."""
    base_env = {k: v for k, v in os.environ.items()
                if not k.startswith(("DB_", "REDIS_", "EMAIL_", "STORAGE_", "S3_"))}
    base_env.update({
        "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1", "DATABASE_URL": engines.database_url,
        "REDIS_URL": engines.redis_url, "STORAGE_BACKEND": "s3", "S3_ENDPOINT_URL": s3_server.endpoint_url,
        "S3_BUCKET": s3_server.bucket, "S3_PREFIX": f"shared-nothing-{uuid.uuid4().hex[:8]}/",
        "S3_REGION": "us-east-1", "SECRET_KEY": secrets.token_urlsafe(48), "REPORTSVC_FAULT_INJECTION": "1",
        "REPORT_LOCK_SECONDS": "3", "HEARTBEAT_INTERVAL_SECONDS": "0.5", "STALL_SWEEP_INTERVAL_SECONDS": "1",
        "RECONCILE_INTERVAL_SECONDS": "1", "RECONCILE_GRACE_SECONDS": "2", "REPORT_RETRY_DELAYS_MS": "500,1000,2000",
        "RATE_LIMIT_REPORT_CREATE": "off", "RATE_LIMIT_LOGIN_IP": "off", "RATE_LIMIT_LOGIN_ACCOUNT": "off",
    })
    started: list[Host] = []

    def start(name: str, args: list[str]) -> Host:
        host = Host(name, tmp_path, args, base_env).start()
        started.append(host)
        return host

    yield start
    for host in started:
        host.kill()


def _api(port: int, token: str, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as reply:
        data = reply.read()
        return json.loads(data) if reply.headers.get_content_type() == "application/json" else data


def test_web_two_workers_and_scheduler_sharing_no_path_serve_identical_pdfs_through_a_worker_kill(
        app, auth_tokens, hosts, tmp_path):
    token = auth_tokens.token(TEST_OPERATOR)
    python = sys.executable
    port = free_port()
    hosts("web", [python, "-m", "flask", "--app", "app", "run", "--port", str(port), "--no-reload"])
    first = hosts("worker-1", [python, "-m", "dramatiq", "reportsvc.tasks", "--processes", "1", "--threads", "4"])
    hosts("worker-2", [python, "-m", "dramatiq", "reportsvc.tasks", "--processes", "1", "--threads", "4"])
    hosts("scheduler", [python, "-m", "flask", "--app", "app", "scheduler"])

    def web_up() -> bool:
        try:
            return _api(port, token, "GET", "/readyz")["status"] == "ok"
        except OSError:
            return False

    wait_for(web_up, timeout=60, interval=0.2)
    ids = [_api(port, token, "POST", "/reports", {"params": {"simulate": {"sleep_seconds": 1.5}}})["id"]
           for _ in range(12)]

    # kill -9 worker-1 while it holds a claim
    def held_by_first() -> list[str]:
        mine = {f"{os.uname().nodename}:{pid}" for pid in first.pids()}
        return [rid for rid in ids if _api(port, token, "GET", f"/reports/{rid}")["worker"] in mine
                and _api(port, token, "GET", f"/reports/{rid}/status")["status"] == "RUNNING"]

    victims = wait_for(held_by_first, timeout=60, interval=0.1)
    first.kill()

    def all_done() -> bool:
        return all(_api(port, token, "GET", f"/reports/{rid}/status")["status"] in ("READY", "FAILED") for rid in ids)

    wait_for(all_done, timeout=90, interval=0.5)
    for rid in ids:
        record = _api(port, token, "GET", f"/reports/{rid}")
        assert record["status"] == "READY", (rid, record["error_message"])
        assert [e["kind"] for e in record["events"]].count("completed") == 1, rid
        pdf = _api(port, token, "GET", f"/reports/{rid}/download")
        assert pdf.startswith(b"%PDF") and hashlib.sha256(pdf).hexdigest() == record["file_sha256"], rid
    for rid in victims:
        assert "stalled" in [e["kind"] for e in _api(port, token, "GET", f"/reports/{rid}")["events"]], rid
    # Nothing was written to any process's own disk: the PDFs live only in the object store.
    for name in ("web", "worker-1", "worker-2", "scheduler"):
        assert not list((tmp_path / name / "reports").rglob("*.pdf")), name
