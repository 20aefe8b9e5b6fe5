"""The WSGI servers bench/api.py compares, as command lines: gunicorn (gthread, sync, gevent) and granian.

A server is named by a spec `kind:shape`:

    gthread:2x4   gunicorn, 2 workers x 4 threads          sync:4       gunicorn, 4 single-threaded workers
    gevent:2x100  gunicorn, 2 gevent workers x 100 conns   granian:2x4  granian (WSGI), 2 workers x 4 threads

Every server binds loopback, keeps connections alive and logs warnings only, so the figures compare the
servers and not their access logs.
"""

from __future__ import annotations

import sys

KINDS = ("gthread", "sync", "gevent", "granian")
#: The deployment's server (Dockerfile CMD, docker-compose.yml `web`): keep them in step. 64 threads a worker
#: because every open console event stream holds one (README "Live updates").
DEPLOYED = "granian:2x64"


def parse(spec: str) -> tuple[str, int, int]:
    """(kind, workers, threads or connections) of a spec; ValueError naming what is wrong."""
    kind, _, shape = spec.partition(":")
    if kind not in KINDS:
        raise ValueError(f"unknown server kind {kind!r} in {spec!r} (one of {', '.join(KINDS)})")
    workers, _, per_worker = shape.partition("x")
    if not workers.isdigit() or (per_worker and not per_worker.isdigit()):
        raise ValueError(f"bad shape in {spec!r}: expected WORKERS or WORKERSxTHREADS, e.g. gthread:2x4")
    return kind, int(workers), int(per_worker or 1)


def command(spec: str, target: str, port: int) -> list[str]:
    """The command line serving the WSGI `target` ("module:attr") on 127.0.0.1:port as `spec` says."""
    kind, workers, per_worker = parse(spec)
    if kind == "granian":
        return [sys.executable, "-m", "granian", target, "--interface", "wsgi", "--host", "127.0.0.1",
                "--port", str(port), "--workers", str(workers), "--blocking-threads", str(per_worker),
                "--no-ws", "--log-level", "warning", "--no-access-log"]
    cmd = [sys.executable, "-m", "gunicorn", target, "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
           "--worker-class", kind, "--keep-alive", "5", "--log-level", "warning"]
    if kind == "gthread":
        cmd += ["--threads", str(per_worker)]
    elif kind == "gevent":
        cmd += ["--worker-connections", str(per_worker)]
    # sync: no --threads (gunicorn turns a sync worker with threads into gthread)
    return cmd
