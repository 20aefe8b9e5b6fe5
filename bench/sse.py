"""Event-stream benchmark: console p99 under the production server with 50 open /console/events streams vs none.

Runs the server the deployment runs (the command of docker-compose.yml's `web` service and the Dockerfile:
bench/_api_servers.DEPLOYED, workers x threads) on dedicated engines. Normal console load is
CONCURRENCY client threads requesting the reports list, the live-row poll fragment and the queues page back
to back, while one more client creates a report every 0.2 s (each creation is an event every open stream
receives). Phase "none" runs that load alone; phase "streams" runs it with 50 event streams open and
reading, then checks every stream saw the events. Phases alternate (none, streams, none, streams) so machine
noise hits both alike; p99 is over all requests of a phase kind.

    python -m bench.sse [--small]

Ends with `ratio sse_console_p99 <streams p99 / none p99> target <= 2`.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import threading
import time
import urllib.error
import urllib.request
from typing import Any

from bench import _api_servers, api, common
from bench.common import BenchEngines, CouldNotMeasure, percentile, say

TARGET = 2.0
STREAMS = 50
CONCURRENCY = 4


def serve(found: BenchEngines, port: int) -> common.Proc:
    """app:app under the production server (bench/_api_servers.DEPLOYED), on the bench engines."""
    return api.serve(found, "app:app", port, _api_servers.DEPLOYED, "sse", env={"SSE_MAX_SECONDS": "600"})


class Stream(threading.Thread):
    """One open /console/events stream, counting the events it reads."""

    def __init__(self, port: int, token: str) -> None:
        super().__init__(daemon=True)
        self.port, self.token = port, token
        self.events = 0
        self.opened = threading.Event()
        self.conn: http.client.HTTPConnection | None = None

    def run(self) -> None:
        """Read lines until the connection is closed."""
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        try:
            self.conn.request("GET", "/console/events", headers={"Authorization": f"Bearer {self.token}"})
            response = self.conn.getresponse()
            if response.status != 200:
                return
            while True:
                line = response.fp.readline()
                if not line:
                    return
                if line.startswith(b"event:"):
                    self.events += 1
                    self.opened.set()
        except OSError:
            return

    def close(self) -> None:
        """Drop the connection (the server ends the stream at its next write)."""
        if self.conn is not None and self.conn.sock is not None:
            with contextlib.suppress(OSError):
                self.conn.sock.shutdown(2)
            self.conn.close()


def console_load(port: int, token: str, seconds: float, ids: list[str]) -> list[float]:
    """CONCURRENCY clients on the console pages for `seconds`, plus a report every 0.2 s; latencies (s)."""
    urls = ["/console/", "/console/live?ids=" + ",".join(ids), "/console/queues"]
    headers = {"Authorization": f"Bearer {token}"}
    stop_at = time.monotonic() + seconds
    samples: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def client(offset: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        i = offset
        while time.monotonic() < stop_at:
            url = urls[i % len(urls)]
            started = time.perf_counter()
            try:
                conn.request("GET", url, headers=headers | ({"HX-Request": "true"} if "live" in url else {}))
                response = conn.getresponse()
                response.read()
            except OSError as exc:
                errors.append(str(exc))
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                continue
            elapsed = time.perf_counter() - started
            if response.status != 200:
                errors.append(f"{url}: {response.status}")
            with lock:
                samples.append(elapsed)
            i += 1

    def creator() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while time.monotonic() < stop_at:
            conn.request("POST", "/reports", body=json.dumps({"title": "sse bench"}),
                         headers=headers | {"Content-Type": "application/json"})
            conn.getresponse().read()
            time.sleep(0.2)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CONCURRENCY)]
    threads.append(threading.Thread(target=creator))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise CouldNotMeasure(f"{len(errors)} console requests failed, e.g. {errors[0]}")
    return samples


def body(args: Any) -> None:
    """Alternate phases with and without 50 open streams; print p50/p99 and the ratio line."""
    seconds = 4.0 if args.small else 15.0
    say(f"sse benchmark: console p99 with {STREAMS} open event streams vs none; "
        f"{_api_servers.DEPLOYED}, {CONCURRENCY} console clients, {seconds:g} s a phase; {common.machine()}")
    port = 0
    with common.engines(durable=not args.no_fsync) as found:
        from reportsvc.dev.engine_base import free_port

        port = free_port()
        token = found.api_token()
        server = serve(found, port)
        try:
            ids = []
            for _ in range(25):
                req = urllib.request.Request(f"http://127.0.0.1:{port}/reports", data=b"{}", method="POST",
                                             headers={"Authorization": f"Bearer {token}",
                                                      "Content-Type": "application/json"})
                with urllib.request.urlopen(req, timeout=10) as response:
                    ids.append(json.loads(response.read())["id"])
            console_load(port, token, 2.0, ids)  # warm-up: imports, pools, caches
            results: dict[str, list[float]] = {"none": [], "streams": []}
            for phase in ("none", "streams", "none", "streams"):
                streams: list[Stream] = []
                if phase == "streams":
                    streams = [Stream(port, token) for _ in range(STREAMS)]
                    for s in streams:
                        s.start()
                    for s in streams:
                        if not s.opened.wait(30):
                            raise CouldNotMeasure("an event stream did not open within 30 s")
                before = [s.events for s in streams]
                results[phase] += console_load(port, token, seconds, ids)
                if streams:
                    got = [s.events - b for s, b in zip(streams, before, strict=True)]
                    say(f"  streams: every one of {len(streams)} read {min(got)}..{max(got)} events in the phase")
                    if min(got) == 0:
                        raise CouldNotMeasure("a stream read no event while reports were created")
                    for s in streams:
                        s.close()
                say(f"  phase {phase:<8} {len(results[phase]):>6} requests so far")
        finally:
            server.stop()
    p = {k: (percentile(v, 50), percentile(v, 99)) for k, v in results.items()}
    say("")
    say(f"{'phase':<10}{'requests':>10}{'p50 ms':>10}{'p99 ms':>10}")
    for k, (p50, p99) in p.items():
        say(f"{k:<10}{len(results[k]):>10}{p50 * 1000:>10.1f}{p99 * 1000:>10.1f}")
    common.ratio_line("sse_console_p99", p["streams"][1] / p["none"][1], "<=", TARGET)


def main(argv: list[str] | None = None) -> int:
    """Entry point (`python -m bench.sse [--small]`)."""
    p = common.parser(__doc__.splitlines()[0] if __doc__ else "sse benchmark")
    return common.run_main(body, p.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
