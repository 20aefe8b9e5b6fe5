"""Running the dev children: prefixed output, restart with backoff, orderly shutdown.

`Supervisor.run()` starts the children, prints the console URL once the web answers `/healthz`,
restarts a worker or scheduler that dies (with backoff, giving up after many rapid failures), stops
everything if the web dies, and on a stop request sends SIGTERM to every child, SIGKILL after 10 s.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from reportsvc.dev.console import Console
from reportsvc.dev.engine_base import die_with_parent_preexec
from reportsvc.dev.settings import PROJECT_ROOT

SHUTDOWN_GRACE = 10.0


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


def http_answers(url: str, timeout: float = 1.0) -> bool:
    """True if `url` gives any HTTP response (even 404/500); False if nothing listens yet."""
    try:
        with urllib.request.urlopen(url, timeout=timeout):
            return True
    except urllib.error.HTTPError:
        return True
    except (urllib.error.URLError, OSError):
        return False


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
