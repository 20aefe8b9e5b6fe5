"""A small HTTP load generator for bench/api.py (loopback only): threads with keep-alive connections.

`--mode create`: each thread repeats POST /reports. `--mode status`: each thread repeats
GET /reports/<id>/status over the ids in `--ids-file`. Stops after `--duration` seconds or
`--max-requests`, prints one JSON object with the latencies.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit


def worker(host: str, port: int, token: str | None, mode: str, ids: list[str], offset: int, stop_at: float,
           budget: list[int], lock: threading.Lock, out: list[float], errors: list[str], body: str) -> None:
    conn = http.client.HTTPConnection(host, port, timeout=30)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    latencies: list[float] = []
    i = offset
    while time.monotonic() < stop_at:
        with lock:
            if budget[0] <= 0:
                break
            budget[0] -= 1
        try:
            t0 = time.perf_counter()
            if mode == "create":
                conn.request("POST", "/reports", body=body, headers=headers)
                expected = 202
            else:
                conn.request("GET", f"/reports/{ids[i % len(ids)]}/status", headers=headers)
                i += 7
                expected = 200
            response = conn.getresponse()
            response.read()
            t1 = time.perf_counter()
            if response.status != expected:
                errors.append(f"{response.status}")
                continue
            latencies.append(t1 - t0)
        except (OSError, http.client.HTTPException) as exc:
            errors.append(type(exc).__name__)
            conn.close()
            conn = http.client.HTTPConnection(host, port, timeout=30)
    conn.close()
    with lock:
        out += latencies


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("url")
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--duration", type=float, default=10.0)
    p.add_argument("--max-requests", type=int, default=200_000)
    p.add_argument("--token", help="bearer token (or env BENCH_TOKEN)")
    p.add_argument("--mode", choices=("create", "status"), default="create")
    p.add_argument("--ids-file", help="report ids, one per line (status mode)")
    p.add_argument("--body", default=json.dumps({"title": "Load test"}), help="JSON body of each create")
    args = p.parse_args()
    split = urlsplit(args.url)
    if split.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit("loopback only")
    ids = Path(args.ids_file).read_text().split() if args.ids_file else []
    if args.mode == "status" and not ids:
        raise SystemExit("status mode needs --ids-file with ids")
    out: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    budget = [args.max_requests]
    token = args.token or os.environ.get("BENCH_TOKEN")
    started = time.monotonic()
    stop_at = started + args.duration
    threads = [threading.Thread(target=worker, args=(split.hostname, split.port, token, args.mode, ids, n * 997,
                                                     stop_at, budget, lock, out, errors, args.body))
               for n in range(args.concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    print(json.dumps({"elapsed": elapsed, "latencies": out, "errors": errors[:20], "error_count": len(errors)}))


if __name__ == "__main__":
    main()
