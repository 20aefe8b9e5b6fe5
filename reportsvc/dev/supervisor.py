"""Dev supervisor behind `make run` (`python -m reportsvc.dev`).

1. Loads `.env` (real environment variables win) and checks the settings (a bad value stops it
   before anything starts, with the message naming the variable).
2. Starts embedded PostgreSQL / Valkey for whatever is not configured (data under `instance/`)
   and hands `DATABASE_URL` / `REDIS_URL` to the children.
3. Runs migrations (`flask --app app db upgrade`); on a database without accounts creates `admin`
   and prints its password once (REPORTSVC_ADMIN_PASSWORD sets it instead).
4. Runs web, worker and scheduler with prefixed, colored output; prints the console URL once the
   web answers `/healthz`. The web listens on APP_HOST (default 127.0.0.1: this machine only).
5. Restarts a worker or scheduler that dies, with backoff, and gives up after many rapid failures;
   if the web dies, stops everything and exits non-zero.
6. Ctrl+C / SIGTERM: SIGTERM to every child, SIGKILL after 10 s, stop the engines, exit 0.

The scheduler runs only if `flask --app app scheduler --help` succeeds (checked once at startup,
in parallel with migrations), so this works while that command does not exist yet.

Exit codes: 0 after Ctrl+C/SIGTERM; 1 when a setting is invalid, web died, migrations failed or a
child kept crashing; 2 when a port we need is taken by another program.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from reportsvc.dev.engines import (
    DevServerError,
    EmbeddedPostgres,
    EmbeddedValkey,
    PortInUseError,
    die_with_parent_preexec,
    port_is_free,
    port_owner,
)

# The repo root: `--app app` resolves app.py here and instance/ holds the embedded engines' data.
PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEV_PG_PORT = 54329
DEV_REDIS_PORT = 63799
DEV_DATABASE = "reportsvc"
DEFAULT_APP_PORT = 3000
#: A dev server (debuggable, with a generated admin password printed to the terminal) is for this machine
#: only; APP_HOST=0.0.0.0 opts in to serving the network.
DEFAULT_APP_HOST = "127.0.0.1"
#: Bind-all addresses: the supervisor reaches such a server through loopback.
_WILDCARD_HOSTS = {"0.0.0.0": "127.0.0.1", "::": "::1"}
SHUTDOWN_GRACE = 10.0
PREFIX_WIDTH = 9  # len("scheduler")

_COLORS = {
    "web": "36",  # cyan
    "worker": "35",  # magenta
    "scheduler": "33",  # yellow
    "migrate": "34",  # blue
    "devrun": "32",  # green
}


# --------------------------------------------------------------------------- pure logic


def _set(env: Mapping[str, str], name: str) -> bool:
    return bool(env.get(name, "").strip())


def db_configured(env: Mapping[str, str]) -> bool:
    """True if the environment points at a PostgreSQL server (DATABASE_URL or DB_HOST)."""
    return _set(env, "DATABASE_URL") or _set(env, "DB_HOST")


def redis_configured(env: Mapping[str, str]) -> bool:
    """True if the environment points at a Redis server (REDIS_URL or REDIS_HOST)."""
    return _set(env, "REDIS_URL") or _set(env, "REDIS_HOST")


@dataclass(frozen=True)
class DevPlan:
    """Which embedded engines to run and the variables the children get on top of the environment."""

    embedded_db: bool
    embedded_redis: bool
    env_overrides: dict[str, str] = field(default_factory=dict)


def make_plan(env: Mapping[str, str], pg_port: int = DEV_PG_PORT, redis_port: int = DEV_REDIS_PORT) -> DevPlan:
    """Decide which engines to embed: only what the environment does not configure."""
    embedded_db = not db_configured(env)
    embedded_redis = not redis_configured(env)
    overrides: dict[str, str] = {}
    if embedded_db:
        overrides["DATABASE_URL"] = f"postgresql+psycopg://postgres@127.0.0.1:{pg_port}/{DEV_DATABASE}"
    if embedded_redis:
        overrides["REDIS_URL"] = f"redis://127.0.0.1:{redis_port}/0"
    return DevPlan(embedded_db, embedded_redis, overrides)


def app_port(env: Mapping[str, str]) -> int:
    """Port of the web process: APP_PORT or 3000."""
    raw = env.get("APP_PORT", "").strip()
    return int(raw) if raw else DEFAULT_APP_PORT


def app_host(env: Mapping[str, str]) -> str:
    """Address the web process listens on: APP_HOST or 127.0.0.1."""
    return env.get("APP_HOST", "").strip() or DEFAULT_APP_HOST


def local_url(host: str, port: int, path: str = "/") -> str:
    """URL at which a server bound to host:port is reached from this machine (wildcards via loopback)."""
    target = _WILDCARD_HOSTS.get(host, host)
    if ":" in target:  # an IPv6 literal
        target = f"[{target}]"
    return f"http://{target}:{port}{path}"


def public_url(host: str, port: int) -> str:
    """The console URL to print: localhost when the server listens on loopback or everywhere."""
    if host in _WILDCARD_HOSTS or host in ("127.0.0.1", "::1", "localhost"):
        return f"http://localhost:{port}/console/"
    return local_url(host, port, "/console/")


def config_error(env: Mapping[str, str]) -> str | None:
    """What is wrong with the settings the children will load from `env`, or None if they are valid."""
    from reportsvc.config import ConfigError, load_settings

    try:
        load_settings(env)
    except ConfigError as exc:
        return str(exc)
    return None


def use_color(stream: IO[str], env: Mapping[str, str]) -> bool:
    """Color when writing to a terminal, unless NO_COLOR is set; FORCE_COLOR forces it."""
    if env.get("NO_COLOR"):
        return False
    if env.get("FORCE_COLOR"):
        return True
    return hasattr(stream, "isatty") and stream.isatty()


def prefix(name: str, color: bool = False) -> str:
    """Aligned line prefix for a process: `web      | `, colored when asked."""
    text = f"{name:<{PREFIX_WIDTH}}| "
    code = _COLORS.get(name)
    if color and code:
        return f"\033[{code}m{text}\033[0m"
    return text


def format_line(name: str, line: str, color: bool = False) -> str:
    """One output line of process `name`, prefixed, without a trailing newline."""
    return prefix(name, color) + line.rstrip("\r\n")


@dataclass
class RestartPolicy:
    """Exponential restart backoff; a run of `stable_after` s forgives earlier crashes.

    `on_exit(runtime)` returns the delay before the next start, or None to give up after more than
    `max_rapid_failures` crashes in a row that each lived less than `stable_after` seconds.
    """

    base_delay: float = 1.0
    max_delay: float = 30.0
    stable_after: float = 30.0
    max_rapid_failures: int = 8
    failures: int = 0

    def on_exit(self, runtime: float) -> float | None:
        """Record an unexpected exit after `runtime` seconds; return the restart delay or None."""
        if runtime >= self.stable_after:
            self.failures = 0
        self.failures += 1
        if self.failures > self.max_rapid_failures:
            return None
        return float(min(self.base_delay * 2 ** (self.failures - 1), self.max_delay))


def flask_cmd(python: str, *args: str) -> list[str]:
    """`python -m flask --app app ARGS`."""
    return [python, "-m", "flask", "--app", "app", *args]


def child_commands(python: str, port: int, with_scheduler: bool = True,
                   host: str = DEFAULT_APP_HOST) -> dict[str, list[str]]:
    """Command lines of the supervised children, by name."""
    cmds = {
        # No reloader: a reloader forks a second server process we would not supervise.
        "web": flask_cmd(python, "run", "--host", host, "--port", str(port), "--no-reload", "--with-threads"),
        "worker": [python, "-m", "dramatiq", "reportsvc.tasks", "--processes", "1", "--threads", "8"],
    }
    if with_scheduler:
        cmds["scheduler"] = flask_cmd(python, "scheduler")
    return cmds


def migrate_cmd(python: str) -> list[str]:
    """Command that brings the database schema up to date."""
    return flask_cmd(python, "db", "upgrade")


def scheduler_check_cmd(python: str) -> list[str]:
    """Command whose exit code tells whether `flask scheduler` exists."""
    return flask_cmd(python, "scheduler", "--help")


# --------------------------------------------------------------------------- output


class Console:
    """Serializes prefixed lines from the reader threads onto one stream."""

    def __init__(self, stream: IO[str] | None = None, color: bool | None = None) -> None:
        self.stream = stream if stream is not None else sys.stdout
        self.color = use_color(self.stream, os.environ) if color is None else color
        self._lock = threading.Lock()

    def line(self, name: str, text: str) -> None:
        """Print one line of process `name`."""
        with self._lock:
            self.stream.write(format_line(name, text, self.color) + "\n")
            self.stream.flush()

    def say(self, text: str) -> None:
        """Print a message of the supervisor itself."""
        self.line("devrun", text)

    def pump(self, name: str, pipe: IO[bytes]) -> threading.Thread:
        """Start a daemon thread copying `pipe` line by line to the console."""

        def run() -> None:
            with pipe:
                for raw in iter(pipe.readline, b""):
                    self.line(name, raw.decode("utf-8", errors="replace"))

        thread = threading.Thread(target=run, name=f"devrun-{name}", daemon=True)
        thread.start()
        return thread


# --------------------------------------------------------------------------- children


def _spawn(cmd: Sequence[str], env: Mapping[str, str]) -> subprocess.Popen[bytes]:
    """Start a child in its own session (a terminal Ctrl+C reaches only us, so we stop children in
    order) that also gets SIGTERM if we are SIGKILLed (Linux), so nothing outlives the supervisor."""
    return subprocess.Popen(
        list(cmd),
        env=dict(env),
        cwd=PROJECT_ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=die_with_parent_preexec(),
    )


def _killpg(pgid: int, sig: int) -> None:
    """Signal a child's process group (dramatiq's forked workers live there); ignore if it is gone."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


@dataclass
class Child:
    """One supervised process and its restart state."""

    name: str
    cmd: list[str]
    restart: bool
    policy: RestartPolicy = field(default_factory=RestartPolicy)
    popen: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    restart_at: float | None = None

    def start(self, env: Mapping[str, str], console: Console) -> None:
        """Spawn the process and pump its output."""
        self.popen = _spawn(self.cmd, env)
        self.started_at = time.monotonic()
        self.restart_at = None
        assert self.popen.stdout is not None
        console.pump(self.name, self.popen.stdout)

    def running(self) -> bool:
        """True while the process has not exited."""
        return self.popen is not None and self.popen.poll() is None


def run_prefixed(name: str, cmd: Sequence[str], env: Mapping[str, str], console: Console) -> int:
    """Run a command to completion with prefixed output; return its exit code."""
    proc = subprocess.Popen(list(cmd), env=dict(env), cwd=PROJECT_ROOT, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
    assert proc.stdout is not None
    thread = console.pump(name, proc.stdout)
    code = proc.wait()
    thread.join(timeout=5)
    return code


def run_migrations(python: str, env: Mapping[str, str], console: Console) -> bool:
    """`flask --app app db upgrade`; True on success."""
    console.say("running migrations: flask --app app db upgrade")
    code = run_prefixed("migrate", migrate_cmd(python), env, console)
    if code != 0:
        console.say(f"migrations failed with exit code {code}")
    return code == 0


def ensure_admin(python: str, env: Mapping[str, str], console: Console) -> bool:
    """On an empty database create the `admin` account and print its password once (issue 6)."""
    code = run_prefixed("devrun", flask_cmd(python, "ensure-admin"), env, console)
    if code != 0:
        console.say(f"could not create the admin account (exit code {code}); create one with "
                    "`flask --app app users create NAME --role admin`")
    return code == 0


def http_answers(url: str, timeout: float = 1.0) -> bool:
    """True if `url` gives any HTTP response (even 404/500); False if nothing listens yet."""
    try:
        with urllib.request.urlopen(url, timeout=timeout):
            return True
    except urllib.error.HTTPError:
        return True
    except (urllib.error.URLError, OSError):
        return False


# --------------------------------------------------------------------------- engines


class Engines:
    """The embedded servers this run started (or adopted from an earlier run), stopped on exit."""

    def __init__(self, root: Path, console: Console) -> None:
        self.root = root
        self.console = console
        self.pg: EmbeddedPostgres | None = None
        self.valkey: EmbeddedValkey | None = None

    def start(self, plan: DevPlan, pg_port: int = DEV_PG_PORT, redis_port: int = DEV_REDIS_PORT) -> None:
        """Start what `plan` asks for; raises PortInUseError / DevServerError."""
        say = self.console.say
        if plan.embedded_db:
            pg = EmbeddedPostgres(self.root / "instance" / "postgres", pg_port, durable=True)
            self.pg = pg
            if pg.is_running():
                say(f"reusing embedded PostgreSQL left running on port {pg_port} by an earlier run")
            else:
                say(f"starting embedded PostgreSQL on 127.0.0.1:{pg_port} (data: instance/postgres)")
            pg.start()
            if pg.ensure_database(DEV_DATABASE):
                say(f"created database {DEV_DATABASE!r}")
        else:
            say("using the configured PostgreSQL (DATABASE_URL / DB_HOST)")
        if plan.embedded_redis:
            say(f"starting embedded Valkey on 127.0.0.1:{redis_port} (data: instance/valkey, AOF on)")
            # Main thread spawns it, so tying its life to ours (PDEATHSIG) is safe here.
            valkey = EmbeddedValkey(
                self.root / "instance" / "valkey", redis_port, appendonly=True, die_with_parent=True
            )
            self.valkey = valkey
            valkey.start()
        else:
            say("using the configured Redis (REDIS_URL / REDIS_HOST)")

    def stop(self) -> None:
        """Stop Valkey, then PostgreSQL; report but do not raise errors."""
        if self.valkey is not None:
            self.console.say("stopping embedded Valkey")
            try:
                self.valkey.stop()
            except (DevServerError, OSError) as exc:
                self.console.say(f"could not stop Valkey cleanly: {exc}")
            self.valkey = None
        if self.pg is not None:
            self.console.say("stopping embedded PostgreSQL")
            try:
                self.pg.stop("fast")
            except (DevServerError, OSError) as exc:
                self.console.say(f"could not stop PostgreSQL cleanly: {exc}")
            self.pg = None


# --------------------------------------------------------------------------- supervisor


class Supervisor:
    """Runs the children until Ctrl+C/SIGTERM, a web exit, or a child that keeps crashing."""

    def __init__(
        self,
        children: list[Child],
        env: Mapping[str, str],
        console: Console,
        health_url: str,
        public_url: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.children = children
        self.env = env
        self.console = console
        self.health_url = health_url
        self.public_url = public_url
        self.clock = clock
        self.stop_requested = threading.Event()
        self.force = False

    def request_stop(self) -> None:
        """Ask the loop to shut down; a second request skips the grace period."""
        if self.stop_requested.is_set():
            self.force = True
        self.stop_requested.set()

    def run(self) -> int:
        """Start the children and supervise them; return the process exit code."""
        for child in self.children:
            child.start(self.env, self.console)
        up = False
        warned_slow = False
        started = self.clock()
        code = 0
        while not self.stop_requested.wait(0.2):
            code = self._check_children()
            if code:
                break
            if not up:
                if http_answers(self.health_url):
                    up = True
                    self.console.say(f"reportsvc is up: {self.public_url}")
                elif not warned_slow and self.clock() - started > 60:
                    warned_slow = True
                    self.console.say(f"web does not answer {self.health_url} yet after 60 s")
        self.shutdown()
        return code

    def _check_children(self) -> int:
        """Handle exits and due restarts; non-zero means stop everything with that code."""
        now = self.clock()
        for child in self.children:
            if child.restart_at is not None:
                if now >= child.restart_at:
                    self.console.say(f"restarting {child.name}")
                    child.start(self.env, self.console)
                continue
            if child.popen is None or child.running():
                continue
            code = child.popen.returncode
            # The dead main process may leave forked workers behind in its group.
            _killpg(child.popen.pid, signal.SIGKILL)
            if not child.restart:
                self.console.say(f"{child.name} exited with code {code}; stopping everything")
                return 1
            delay = child.policy.on_exit(now - child.started_at)
            if delay is None:
                self.console.say(
                    f"{child.name} exited with code {code}; it crashed {child.policy.failures} times "
                    "in a row, giving up"
                )
                return 1
            self.console.say(f"{child.name} exited with code {code}; restarting in {delay:g} s")
            child.restart_at = now + delay
        return 0

    def shutdown(self) -> None:
        """SIGTERM every child, wait up to the grace period, SIGKILL what is left."""
        live = [c for c in self.children if c.running()]
        if live:
            self.console.say("stopping " + ", ".join(c.name for c in live))
        for child in live:
            assert child.popen is not None
            # The main pid only: dramatiq's main process forwards the signal to its workers itself.
            with contextlib.suppress(ProcessLookupError):
                child.popen.send_signal(signal.SIGTERM)
        deadline = self.clock() + SHUTDOWN_GRACE
        while any(c.running() for c in live) and self.clock() < deadline and not self.force:
            time.sleep(0.1)
        for child in live:
            assert child.popen is not None
            if child.running():
                self.console.say(f"{child.name} did not stop in {SHUTDOWN_GRACE:g} s; killing it")
            # Also sweeps grandchildren of a child that did exit.
            _killpg(child.popen.pid, signal.SIGKILL)
            try:
                child.popen.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.console.say(f"{child.name} (pid {child.popen.pid}) did not die")


# --------------------------------------------------------------------------- main


def load_dotenv_file(path: Path) -> None:
    """Load `.env` into os.environ without overriding variables already set."""
    if not path.is_file():
        return
    from dotenv import load_dotenv

    load_dotenv(path, override=False)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `python -m reportsvc.dev`; returns the exit code."""
    del argv  # no options yet; configuration comes from the environment
    root = PROJECT_ROOT
    load_dotenv_file(root / ".env")
    console = Console()
    python = sys.executable
    plan = make_plan(os.environ)
    env: dict[str, Any] = {**os.environ, **plan.env_overrides, "PYTHONUNBUFFERED": "1"}
    problem = config_error(env)
    if problem:  # before any engine starts: every child would refuse these settings anyway
        console.say(f"error: configuration error: {problem}")
        return 1
    port = app_port(os.environ)
    host = app_host(os.environ)

    supervisor: Supervisor | None = None

    def on_signal(signum: int, frame: object) -> None:
        if supervisor is not None:
            supervisor.request_stop()
        else:
            # Still starting up: unwind through the finally below, which stops the engines.
            raise KeyboardInterrupt

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    engines = Engines(root, console)
    try:
        # port_is_free binds IPv4 only; for an IPv6 APP_HOST the web's own bind error reports a clash.
        if ":" not in host and not port_is_free(port, host):
            owner = port_owner(port)
            console.say(f"error: {host}:{port} (APP_HOST:APP_PORT) is already in use{f' by {owner}' if owner else ''}")
            return 2
        try:
            engines.start(plan)
        except PortInUseError as exc:
            what = "DATABASE_URL" if engines.valkey is None else "REDIS_URL"
            console.say(f"error: {exc}; stop that program, or set {what} to use it as an external server")
            return 2
        except DevServerError as exc:
            console.say(f"error: could not start an embedded server: {exc}")
            return 1

        check = subprocess.Popen(scheduler_check_cmd(python), env=env, cwd=root, stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        migrated = run_migrations(python, env, console)
        with_scheduler = check.wait() == 0
        if not migrated:
            return 1
        ensure_admin(python, env, console)
        if not with_scheduler:
            console.say("`flask --app app scheduler` is not available; running without the scheduler")

        children = [
            Child(name, cmd, restart=(name != "web"))
            for name, cmd in child_commands(python, port, with_scheduler, host).items()
        ]
        supervisor = Supervisor(
            children,
            env,
            console,
            health_url=local_url(host, port, "/healthz"),
            public_url=public_url(host, port),
        )
        code = supervisor.run()
        return code
    except KeyboardInterrupt:
        console.say("interrupted during startup")
        if supervisor is not None:
            supervisor.shutdown()
        return 0
    finally:
        # Ignore further signals while the engines stop; a half-stopped Postgres helps nobody.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        engines.stop()
        console.say("bye")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
