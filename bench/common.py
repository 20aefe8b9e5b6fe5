"""Shared helpers for the benchmarks: dedicated engines, processes, statistics, ratio lines.

Every benchmark starts its *own* embedded PostgreSQL and Valkey on free ports in a temp dir (never the
dev or test servers), migrates, runs the thing it measures and a baseline in the same run on the same
engines, and ends with one line per headline figure::

    ratio <name> <value> target <op> <value>

`python -m bench` reads those lines. A benchmark exits non-zero only when it could not measure.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent


class CouldNotMeasure(RuntimeError):
    """The benchmark could not produce a figure (engines did not start, workers never finished...)."""


@dataclass
class BenchEngines:
    """A dedicated PostgreSQL + Valkey pair for one benchmark run, plus a storage dir."""

    tmp: Path
    postgres: Any = None
    valkey: Any = None
    database_url: str = ""
    redis_url: str = ""
    storage_dir: Path = field(default_factory=Path)
    _token: str | None = None

    def env(self, **extra: str) -> dict[str, str]:
        """Environment for a reportsvc child process pointed at these engines."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DB_", "REDIS_", "DATABASE_URL"))}
        env.update(
            DATABASE_URL=self.database_url,
            REDIS_URL=self.redis_url,
            STORAGE_DIR=str(self.storage_dir),
            REPORTSVC_FAULT_INJECTION="0",
            # The per-client create limit (60/minute) protects a real deployment; a load test is one
            # client. A limit no bench reaches keeps the limiter's own cost in the measurement.
            RATE_LIMIT_REPORT_CREATE=os.environ.get("BENCH_RATE_LIMIT_REPORT_CREATE", "1000000/minute"),
            RATE_LIMIT_OPERATOR_ACTIONS=os.environ.get("BENCH_RATE_LIMIT_OPERATOR_ACTIONS", "1000000/minute"),
            PYTHONPATH=str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
        )
        env.update(extra)
        return env

    def reset(self) -> None:
        """Empty the tables, Redis and the storage dir between two measured phases."""
        import psycopg
        import redis

        with psycopg.connect(self.conninfo(), autocommit=True) as conn:
            # Accounts and tokens survive a reset (api_token() made them once per run).
            conn.execute("TRUNCATE report_events, audit_log, report_requests RESTART IDENTITY CASCADE")
            conn.execute("VACUUM ANALYZE report_requests")
        redis.Redis.from_url(self.redis_url).flushdb()
        shutil.rmtree(self.storage_dir, ignore_errors=True)
        self.storage_dir.mkdir(parents=True, exist_ok=True)

    def api_token(self) -> str:
        """A bearer token of an operator account made for the benchmark (created on first use)."""
        if self._token is None:
            proc = subprocess.run(
                [sys.executable, "-c", _TOKEN_SCRIPT], cwd=ROOT, env=self.env(), capture_output=True, text=True,
                timeout=120, check=False,
            )  # fmt: skip
            if proc.returncode != 0 or not proc.stdout.strip():
                raise CouldNotMeasure(f"could not create an API token:\n{proc.stderr[-2000:]}")
            self._token = proc.stdout.strip().splitlines()[-1]
        return self._token

    def conninfo(self) -> str:
        """libpq conninfo of the bench database."""
        from sqlalchemy.engine import make_url

        url = make_url(self.database_url)
        return f"host={url.host} port={url.port} user={url.username} dbname={url.database}"


@contextlib.contextmanager
def engines(*, durable: bool = True) -> Iterator[BenchEngines]:
    """Start PostgreSQL (fsync on by default, as in production) and Valkey (AOF on), migrate, yield."""
    from reportsvc.dev.engine_base import free_port
    from reportsvc.dev.postgres import EmbeddedPostgres
    from reportsvc.dev.valkey import EmbeddedValkey

    tmp = Path(tempfile.mkdtemp(prefix="reportsvc-bench-"))
    found = BenchEngines(tmp=tmp, storage_dir=tmp / "storage")
    try:
        found.postgres = EmbeddedPostgres(tmp / "pg", free_port(), durable=durable)
        found.postgres.start()
        found.postgres.ensure_database("reportsvc_bench")
        found.database_url = found.postgres.url("reportsvc_bench")
        found.valkey = EmbeddedValkey(tmp / "valkey", free_port(), appendonly=True)
        found.valkey.start()
        found.redis_url = found.valkey.url(0)
        found.storage_dir.mkdir(parents=True, exist_ok=True)
        migrate(found)
        yield found
    finally:
        for server in (found.valkey, found.postgres):
            if server is not None:
                try:
                    server.stop()
                except Exception:
                    server.kill()
        shutil.rmtree(tmp, ignore_errors=True)


def migrate(found: BenchEngines) -> None:
    """`flask db upgrade` in a child process (keeps this process free of app globals)."""
    proc = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", "db", "upgrade"],
        cwd=ROOT, env=found.env(), capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        raise CouldNotMeasure(f"migration failed:\n{proc.stdout}\n{proc.stderr}")


_TOKEN_SCRIPT = """
from reportsvc import create_app
from reportsvc.state import accounts
from reportsvc.config import load_settings
app = create_app(load_settings())
with app.app_context():
    if accounts.get_user("bench") is None:
        accounts.create_user("bench", "operator", None)
    print(accounts.create_token("bench", "benchmark")[1])
"""


class Proc:
    """A child process (workers, gunicorn, a load generator) with its output in a log file."""

    def __init__(self, args: Sequence[str], env: dict[str, str], log_path: Path, name: str) -> None:
        self.name = name
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.popen = subprocess.Popen(
            list(args), cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip

    @property
    def pid(self) -> int:
        """Pid of the direct child."""
        return self.popen.pid

    def alive(self) -> bool:
        """Still running."""
        return self.popen.poll() is None

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM the child's process group, SIGKILL after timeout."""
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(10)
        self._log.close()

    def tail(self, lines: int = 30) -> str:
        """Last lines of the child's output, for error messages."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def tree_rss(self) -> dict[int, int]:
        """RSS in bytes of the child and every descendant, by pid."""
        out: dict[int, int] = {}
        try:
            root = psutil.Process(self.popen.pid)
            for proc in [root, *root.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    out[proc.pid] = proc.memory_info().rss
        except psutil.Error:
            pass
        return out


def dramatiq_workers(
    found: BenchEngines, module: str, processes: int, threads: int, log_path: Path, **env: str
) -> Proc:
    """`dramatiq <module> -p P -t T` against the bench engines."""
    args = [sys.executable, "-m", "dramatiq", module, "-p", str(processes), "-t", str(threads)]
    return Proc(args, found.env(**env), log_path, f"dramatiq {module} {processes}x{threads}")


def listener_pid(port: int) -> int:
    """Pid of the process listening on TCP `port` on this machine."""
    for conn in psutil.net_connections("tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port and conn.pid:
            return int(conn.pid)
    raise CouldNotMeasure(f"nothing listens on port {port}")


def tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) of a process, its reaped children and every live descendant."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0.0
    total = 0.0
    for proc in procs:
        try:
            t = proc.cpu_times()
        except psutil.Error:
            continue
        total += t.user + t.system + t.children_user + t.children_system
    return total


def wait_until(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.2,
               alive: Callable[[], bool] | None = None) -> Any:
    """Poll until predicate() is truthy; CouldNotMeasure on timeout or when `alive()` turns false."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if alive is not None and not alive():
            raise CouldNotMeasure(f"{what}: a process we depend on exited")
        if time.monotonic() > deadline:
            raise CouldNotMeasure(f"{what}: not done within {timeout:.0f} s")
        time.sleep(interval)


def percentile(values: Sequence[float], p: float) -> float:
    """Linear-interpolated percentile (p in 0..100); nan for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100.0
    lo, hi = math.floor(k), math.ceil(k)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def ratio_line(name: str, value: float, op: str, target: float) -> str:
    """The machine-readable headline: `ratio <name> <value> target <op> <target>`; printed and returned."""
    line = f"ratio {name} {value:.2f} target {op} {target:g}"
    print(line, flush=True)
    return line


def say(text: str) -> None:
    """A human-readable progress/result line (flushed, so `make bench` shows progress)."""
    print(text, flush=True)


def machine() -> str:
    """One line describing the machine the figures came from."""
    import platform

    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = psutil.virtual_memory().total / 2**30
    return f"{os.cpu_count()} CPUs ({cpu}), {mem:.0f} GiB RAM, Python {platform.python_version()}, {platform.system()}"


def parser(description: str) -> argparse.ArgumentParser:
    """Argument parser with the flags every benchmark shares."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--small", action="store_true", help="smoke size (seconds, for the test suite)")
    p.add_argument("--no-fsync", action="store_true", help="PostgreSQL with fsync off (default: on)")
    return p


def run_main(body: Callable[[argparse.Namespace], None], args: argparse.Namespace) -> int:
    """Run a benchmark body: 0 when it measured, 2 when it could not (with the reason on stderr)."""
    try:
        body(args)
    except CouldNotMeasure as exc:
        print(f"could not measure: {exc}", file=sys.stderr, flush=True)
        return 2
    return 0
