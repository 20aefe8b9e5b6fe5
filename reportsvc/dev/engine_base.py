"""What the embedded PostgreSQL and Valkey servers share: errors, ports, process handling, `with`.

Both servers listen on TCP, keep a pid file in their data directory so a later `start()` on the same
directory finds (and reuses or stops) a leftover server, and are killed as a whole process tree in
crash tests. No Flask import here: tests and the dev supervisor use these modules without an app.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import sys
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import psutil


class DevServerError(RuntimeError):
    """A dev server could not be started or stopped."""


class PortInUseError(DevServerError):
    """The requested TCP port is held by a process that is not our server."""

    def __init__(self, port: int, owner: str | None) -> None:
        self.port = port
        self.owner = owner
        who = f" by {owner}" if owner else " by another program"
        super().__init__(f"port {port} is already in use{who}")


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that is free on `host` right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """`count` distinct TCP ports free on `host` right now (all held open until every one is picked)."""
    with contextlib.ExitStack() as stack:
        socks = [stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) for _ in range(count)]
        for sock in socks:
            sock.bind((host, 0))
        return [int(sock.getsockname()[1]) for sock in socks]


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Return True if a server could bind `host:port` now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Both servers set SO_REUSEADDR, so a port with only TIME_WAIT leftovers counts as free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def port_owner(port: int) -> str | None:
    """Describe the process listening on TCP `port` ("valkey-server (pid 12)"), best effort."""
    try:
        conns = psutil.net_connections(kind="tcp")
    except (psutil.AccessDenied, OSError):
        return None
    for conn in conns:
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port and conn.pid:
            try:
                return f"{psutil.Process(conn.pid).name()} (pid {conn.pid})"
            except psutil.Error:
                return f"pid {conn.pid}"
    return None


def client_host(host: str) -> str:
    """Address a client should dial for a server bound to `host`."""
    return "127.0.0.1" if host in ("", "0.0.0.0", "*") else host


def live_process(pid: int) -> psutil.Process | None:
    """Return the process `pid` if it exists and is not a zombie."""
    try:
        proc = psutil.Process(pid)
        # PID 1 in some containers never reaps, so a SIGKILLed server lingers as a zombie.
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
        return proc
    except psutil.Error:
        return None


def read_pid(path: Path) -> int | None:
    """Read the first line of a pid file; None if missing or malformed."""
    try:
        first = path.read_text().splitlines()[0].strip()
        return int(first)
    except (OSError, IndexError, ValueError):
        return None


def kill_tree(proc: psutil.Process, timeout: float = 5.0) -> None:
    """SIGKILL `proc` and then its children at once: the whole server dies, as in a crash or OOM kill.

    Children left alive would hold the port or PostgreSQL's shared memory and block a restart.
    """
    try:
        children = proc.children(recursive=True)
    except psutil.Error:
        children = []
    for victim in [proc, *children]:
        with contextlib.suppress(psutil.Error):
            victim.kill()
    wait_dead([proc, *children], timeout)


def wait_dead(procs: list[psutil.Process], timeout: float) -> bool:
    """Wait until every process is gone or a zombie; True if they all died in time.

    A zombie has released its port and memory; this machine's PID 1 reaps only about once a second.
    """
    deadline = time.monotonic() + timeout
    while True:
        alive = [p for p in procs if live_process(p.pid) is not None]
        if not alive:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)


def log_tail(path: Path, lines: int = 30) -> str:
    """Last `lines` lines of a log file, for error messages."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _die_with_parent() -> None:  # pragma: no cover - runs in the forked child
    """preexec_fn: ask Linux to SIGTERM this child when the thread that spawned it dies."""
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def die_with_parent_preexec() -> Callable[[], None] | None:
    """The preexec_fn that ties a child's life to ours on Linux, else None."""
    return _die_with_parent if sys.platform.startswith("linux") else None


class ManagedServer(ABC):
    """What both embedded servers share: `with` support and a readable repr."""

    data_dir: Path
    port: int
    host: str

    @abstractmethod
    def start(self) -> None:
        """Start the server and wait until it answers."""

    @abstractmethod
    def stop(self) -> None:
        """Stop the server."""

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(data_dir={str(self.data_dir)!r}, port={self.port}, host={self.host!r})"


class ChildServer(ManagedServer):
    """An embedded server that is one child process with a pid file (Valkey, SeaweedFS): how to find it,
    stop it, kill it and reap it. A subclass starts it (setting `_popen` and the pid file) and says which
    process is its own."""

    pid_path: Path
    log_path: Path
    start_timeout: float
    die_with_parent: bool
    _popen: subprocess.Popen[bytes] | None

    @abstractmethod
    def _is_ours(self, proc: psutil.Process) -> bool:
        """Whether a process named by the pid file is this kind of server (pids are reused)."""

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (the server flushes and exits), SIGKILL after `timeout` s; no-op if stopped."""
        proc = self._process()
        if proc is not None:
            with contextlib.suppress(psutil.Error):
                proc.terminate()
            if not wait_dead([proc], timeout):
                kill_tree(proc)
        self._reap()
        self.pid_path.unlink(missing_ok=True)

    def kill(self) -> None:
        """SIGKILL the server (fault tests); what it acknowledged stays on disk."""
        proc = self._process()
        if proc is not None:
            kill_tree(proc)
        self._reap()

    def is_running(self) -> bool:
        """True if our server process is alive."""
        return self._process() is not None

    def freeze(self) -> None:
        """SIGSTOP the server (fault tests): it holds its sockets but answers nothing until thaw()."""
        proc = self._process()
        if proc is None:
            raise DevServerError(f"{self!r} is not running")
        proc.suspend()

    def thaw(self) -> None:
        """SIGCONT a frozen server."""
        proc = self._process()
        if proc is not None:
            proc.resume()

    def _spawn(self, cmd: list[str], **popen: Any) -> subprocess.Popen[bytes]:
        # Own session: a Ctrl+C in the terminal must not stop the server before the processes using it.
        with self.log_path.open("ab") as log:
            self._popen = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                preexec_fn=die_with_parent_preexec() if self.die_with_parent else None, **popen,
            )  # fmt: skip
        return self._popen

    def _wait_until(self, ready: Callable[[], bool], name: str, no_answer: str) -> None:
        # Poll every 50 ms; a child that exits meanwhile fails at once, with its log's tail.
        deadline = time.monotonic() + self.start_timeout
        while not ready():
            if self._popen is not None and self._popen.poll() is not None:
                code = self._popen.returncode
                self._popen = None
                raise DevServerError(f"{name} exited with code {code}\n{log_tail(self.log_path)}")
            if time.monotonic() > deadline:
                raise DevServerError(no_answer)
            time.sleep(0.05)

    def _reap(self) -> None:
        if self._popen is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._popen.wait(timeout=5)
            self._popen = None

    def _process(self) -> psutil.Process | None:
        """Our live server process: the one we spawned, else the one named by the pid file."""
        if self._popen is not None:
            return live_process(self._popen.pid) if self._popen.poll() is None else None
        pid = read_pid(self.pid_path)
        proc = live_process(pid) if pid is not None else None
        try:
            return proc if proc is not None and self._is_ours(proc) else None
        except psutil.Error:
            return None

    def _stop_leftover(self) -> None:
        """Stop a server left running on this data dir by an earlier (killed) process; drop a stale pid file."""
        if self._process() is not None:
            self.stop()
        else:
            self.pid_path.unlink(missing_ok=True)
