"""A small HTTP load generator for bench/api.py (loopback only): threads with keep-alive connections.

Each thread repeats: POST /reports, then GET /reports/<id>/status of what it created. Stops after
`--duration` seconds or `--max-requests`, prints one JSON object with the latencies per kind.
"""

from __future__ import annotations

import argparse
import http.client
import json
import threading
import time
from urllib.parse import urlsplit


def worker(host: str, port: int, stop_at: float, budget: list[int], lock: threading.Lock,
           out: dict[str, list[float]], errors: list[str]) -> None:
    conn = http.client.HTTPConnection(host, port, timeout=30)
    body = json.dumps({"title": "Load test"})
    headers = {"Content-Type": "application/json"}
    create: list[float] = []
    status: list[float] = []
    while time.monotonic() < stop_at:
        with lock:
            if budget[0] <= 0:
                break
            budget[0] -= 2
        try:
            t0 = time.perf_counter()
            conn.request("POST", "/reports", body=body, headers=headers)
            response = conn.getresponse()
            payload = response.read()
            t1 = time.perf_counter()
            if response.status != 202:
                errors.append(f"POST {response.status}")
                continue
            create.append(t1 - t0)
            report_id = json.loads(payload)["id"]
            t0 = time.perf_counter()
            conn.request("GET", f"/reports/{report_id}/status")
            response = conn.getresponse()
            response.read()
            t1 = time.perf_counter()
            if response.status != 200:
                errors.append(f"GET {response.status}")
                continue
            status.append(t1 - t0)
        except (OSError, http.client.HTTPException) as exc:
            errors.append(type(exc).__name__)
            conn.close()
            conn = http.client.HTTPConnection(host, port, timeout=30)
    conn.close()
    with lock:
        out["create"] += create
        out["status"] += status


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("url")
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--duration", type=float, default=10.0)
    p.add_argument("--max-requests", type=int, default=200_000)
    args = p.parse_args()
    split = urlsplit(args.url)
    if split.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit("loopback only")
    out: dict[str, list[float]] = {"create": [], "status": []}
    errors: list[str] = []
    lock = threading.Lock()
    budget = [args.max_requests]
    started = time.monotonic()
    stop_at = started + args.duration
    threads = [threading.Thread(target=worker, args=(split.hostname, split.port, stop_at, budget, lock, out, errors))
               for _ in range(args.concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    print(json.dumps({"elapsed": elapsed, "create": out["create"], "status": out["status"], "errors": errors[:20],
                      "error_count": len(errors)}))


if __name__ == "__main__":
    main()
