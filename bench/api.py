"""API benchmark: reportsvc vs a bare Flask app doing the same INSERT + send, under the same WSGI server.

Both run under the same server (`--server`, default the deployment's; bench/_api_servers.py) on the
same engines, one after the other; the load comes
from a second process (bench/_load.py: threads with keep-alive connections on loopback, bounded by
time and count). First `POST /reports` only, then `GET /reports/<id>/status` only over the rows the
first phase created (so each figure is its own endpoint's, not a mix).
Printed: requests/s, p50/p99 and the server's CPU per request (its process tree, from /proc) per kind and
variant with the load average, with a Flask hello world under the same server as the floor of a request,
then

    ratio api_create_cpu_ms <reportsvc web CPU ms per POST /reports> target <= 1

    ratio api_create <reportsvc/bare req/s> target >= 0.8
    ratio api_create_p99 <reportsvc/bare p99> target <= 2
    ratio api_status ... target >= 0.8, ratio api_status_p99 ... target <= 2

`--servers gthread:2x4,sync:4,...` adds the table that chose the deployment's server: the floor and
`POST /reports` under each server.

The measured load comes from wrk when it is installed (bench/_wrk.py: the Python client's threads compete
with the server for the cores and raise its CPU per request), else from bench/_load.py; every variant (hello,
bare, reportsvc) uses the same client, named in the first line printed.

    python -m bench.api [--duration 15] [--concurrency 16] [--server granian:2x64] [--servers ...] [--small]
        [--client auto|wrk|python]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request

from bench import _api_servers, _wrk, common
from bench.common import BenchEngines, CouldNotMeasure, percentile, say

#: The server the deployment runs (Dockerfile, docker-compose.yml), chosen by `--servers` (README).
DEFAULT_SERVER = _api_servers.DEPLOYED
#: What every create sends (bench/_load.py's default body).
CREATE_BODY = json.dumps({"title": "Load test"})


def serve(found: BenchEngines, target: str, port: int, spec: str, name: str,
          env: dict[str, str] | None = None) -> common.Proc:
    """Start `target` under the server `spec` (bench/_api_servers.py) and wait until it answers."""
    proc = common.Proc(_api_servers.command(spec, target, port), found.env(**(env or {})),
                       found.tmp / f"server-{name}.log", f"{spec} {name}")

    def up() -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/reports/00000000-0000-0000-0000-000000000000/status",
                                        timeout=2):
                return True
        except urllib.error.HTTPError:
            return True  # 404 from the app: it is serving
        except OSError:
            return False

    try:
        common.wait_until(up, timeout=60, what=f"{spec} {name} start", alive=proc.alive)
    except CouldNotMeasure:
        proc.stop()
        raise CouldNotMeasure(f"{spec} {name} did not start:\n{proc.tail()}") from None
    return proc


def load(port: int, duration: float, concurrency: int, max_requests: int, mode: str,
         ids_file: str | None = None, token: str | None = None, body: str | None = None) -> dict[str, object]:
    cmd = [sys.executable, "-m", "bench._load", f"http://127.0.0.1:{port}", "--duration", str(duration),
           "--concurrency", str(concurrency), "--max-requests", str(max_requests), "--mode", mode]
    if body is not None:
        cmd += ["--body", body]
    if ids_file:
        cmd += ["--ids-file", ids_file]
    env = {**os.environ, "BENCH_TOKEN": token or ""}  # not on the command line
    out = subprocess.run(cmd, cwd=common.ROOT, env=env, capture_output=True, text=True, timeout=duration + 120,
                         check=False)
    if out.returncode != 0:
        raise CouldNotMeasure(f"load generator failed:\n{out.stderr[-2000:]}")
    result: dict[str, object] = json.loads(out.stdout)
    return result


def summarize(name: str, kind: str, result: dict[str, object], cpu_seconds: float) -> dict[str, float]:
    if result["error_count"]:
        raise CouldNotMeasure(f"{name} {kind}: {result['error_count']} failed requests, e.g. {result['errors']}")
    if "latencies" in result:  # bench/_load.py: every latency
        lat = list(result["latencies"])  # type: ignore[call-overload]
        n, p50, p99 = len(lat), (percentile(lat, 50) if lat else 0.0), (percentile(lat, 99) if lat else 0.0)
    else:  # wrk: its own percentiles
        n, p50, p99 = int(result["n"]), float(result["p50"]), float(result["p99"])  # type: ignore[call-overload,arg-type]
    if not n:
        raise CouldNotMeasure(f"{name}: no {kind} requests completed")
    figures = {"rps": n / float(result["elapsed"]),  # type: ignore[arg-type]
               "p50": p50, "p99": p99, "n": n,
               # every request the server answered, including failed ones, shares the server's CPU
               "cpu_ms": cpu_seconds * 1000 / (n + int(result["error_count"])),  # type: ignore[call-overload]
               "load": os.getloadavg()[0]}
    say(f"{name:<16} {kind:<6} {figures['rps']:7.1f} req/s  p50 {figures['p50'] * 1000:6.1f} ms"
        f"  p99 {figures['p99'] * 1000:6.1f} ms  web CPU {figures['cpu_ms']:5.2f} ms/request  (n={n}, "
        f"load average {figures['load']:.2f})")
    return figures


def timed_load(server: common.Proc, name: str, kind: str, port: int, args: argparse.Namespace,
               ids_file: str | None, token: str) -> dict[str, float]:
    """One measured load phase: its latencies, and the server tree's CPU over it."""
    before = common.tree_cpu(server.pid)
    if args.client == "wrk":
        try:
            result = _wrk.load(port, args.duration, args.concurrency, kind, ids_file, token, CREATE_BODY)
        except RuntimeError as exc:
            raise CouldNotMeasure(str(exc)) from None
    else:
        result = load(port, args.duration, args.concurrency, args.max_requests, kind, ids_file, token)
    return summarize(name, kind, result, common.tree_cpu(server.pid) - before)


def measure(found: BenchEngines, target: str, name: str, args: argparse.Namespace, *, status: bool = True,
            spec: str | None = None) -> dict[str, dict[str, float]]:
    """`POST /reports` (then `GET status` over the rows it made) against `target` served as `spec`."""
    import psycopg

    found.reset()
    token = found.api_token()  # the bare app ignores it; reportsvc checks it on every request
    port = common_port()
    server = serve(found, target, port, spec or args.server, name)
    out: dict[str, dict[str, float]] = {}
    try:
        warm = min(2.0, args.duration / 3)
        load(port, warm, args.concurrency, 400, "create", token=token)  # warm-up: imports, pools, plans
        out["create"] = timed_load(server, name, "create", port, args, None, token)
        if status:
            ids_file = found.tmp / f"ids-{name}.txt"
            with psycopg.connect(found.conninfo()) as conn:
                ids = [str(r[0]) for r in conn.execute("SELECT id FROM report_requests")]
            ids_file.write_text("\n".join(ids))
            load(port, warm, args.concurrency, 400, "status", str(ids_file), token)
            out["status"] = timed_load(server, name, "status", port, args, str(ids_file), token)
    finally:
        server.stop()
    return out


def server_matrix(found: BenchEngines, args: argparse.Namespace) -> None:
    """The Flask floor and reportsvc's `POST /reports` under each server in --servers: the table that picks one."""
    say("# servers: hello world and reportsvc POST /reports under each server (kind:workers x threads/conns)")
    rows = []
    for spec in args.servers.split(","):
        _api_servers.parse(spec)  # a typo fails here, before any server starts
        hello = measure(found, "bench._hello_api:app", f"hello {spec}", args, status=False, spec=spec)["create"]
        ours = measure(found, "app:app", f"reportsvc {spec}", args, status=False, spec=spec)["create"]
        rows.append((spec, hello, ours))
    say("| server | hello CPU ms/req | hello req/s | create CPU ms/req | create req/s | create p99 ms | load |")
    say("|---|---|---|---|---|---|---|")
    for spec, hello, ours in rows:
        say(f"| {spec} | {hello['cpu_ms']:.2f} | {hello['rps']:.0f} | {ours['cpu_ms']:.2f} | {ours['rps']:.0f} "
            f"| {ours['p99'] * 1000:.0f} | {ours['load']:.1f} |")


def common_port() -> int:
    from reportsvc.dev.engine_base import free_port

    return free_port()


def run(args: argparse.Namespace) -> None:
    if args.small:
        args.duration, args.concurrency, args.max_requests = 3.0, 4, 600
    _api_servers.parse(args.server)
    if args.client == "auto":
        args.client = "wrk" if _wrk.available() else "python"
    elif args.client == "wrk" and not _wrk.available():
        raise CouldNotMeasure("--client wrk: wrk is not installed (apt-get install wrk)")
    say(f"# api: served by {args.server} (bench/_api_servers.py), {args.concurrency} client "
        f"connections from {CLIENTS[args.client]}, {args.duration:g} s per variant; machine: {common.machine()}")
    with common.engines(durable=not args.no_fsync) as found:
        hello = measure(found, "bench._hello_api:app", "hello", args, status=False)
        bare = measure(found, "bench._bare_api:app", "bare", args)
        time.sleep(0.5)
        ours = measure(found, "app:app", "reportsvc", args)
        if args.servers:
            server_matrix(found, args)
    say(f"web CPU per POST /reports: reportsvc {ours['create']['cpu_ms']:.2f} ms, bare INSERT + send "
        f"{bare['create']['cpu_ms']:.2f} ms, Flask hello world (the floor) {hello['create']['cpu_ms']:.2f} ms "
        f"(load average {ours['create']['load']:.2f})")
    common.ratio_line("api_create_cpu_ms", ours["create"]["cpu_ms"], "<=", 1.0)
    common.ratio_line("api_create", ours["create"]["rps"] / bare["create"]["rps"], ">=", 0.8)
    common.ratio_line("api_create_p99", ours["create"]["p99"] / bare["create"]["p99"], "<=", 2)
    common.ratio_line("api_status", ours["status"]["rps"] / bare["status"]["rps"], ">=", 0.8)
    common.ratio_line("api_status_p99", ours["status"]["p99"] / bare["status"]["p99"], "<=", 2)


CLIENTS = {"wrk": "wrk (bench/_wrk.py)", "python": "Python threads (bench/_load.py)"}


def main(argv: list[str] | None = None) -> int:
    p = common.parser("POST /reports and GET status: reportsvc vs a bare Flask endpoint, served alike")
    p.add_argument("--duration", type=float, default=15.0, help="seconds of load per variant (default 15)")
    p.add_argument("--concurrency", type=int, default=16, help="client connections (default 16)")
    p.add_argument("--max-requests", type=int, default=100_000, help="request cap per variant")
    p.add_argument("--server", default=DEFAULT_SERVER,
                   help=f"the server every variant runs under (default {DEFAULT_SERVER}: the deployment's)")
    p.add_argument("--servers", default="", help="also measure the floor and POST /reports under each of these "
                   "servers, e.g. gthread:2x4,sync:4,gevent:2x100,granian:2x4 (see bench/_api_servers.py)")
    p.add_argument("--client", choices=("auto", "wrk", "python"), default="auto",
                   help="the measured load's client: wrk (a C client, lighter on the shared cores) or bench/_load.py's "
                        "Python threads; auto (default) = wrk when installed. Warm-ups always use the Python client")
    return common.run_main(run, p.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
