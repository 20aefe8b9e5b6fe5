"""Memory benchmark: one `dramatiq reportsvc.tasks` worker process renders N reports (default 5,000).

The worker's RSS (the forked process that runs the actors) is sampled once the first N/10 reports
(500 of 5,000) are READY, which is after every import, pool and font cache has warmed up, and again at
the end. A leak of even a few KB per report shows up as growth between the two.

    ratio memory_growth <RSS at end / RSS after the first N/10> target <= 1.1

    python -m bench.memory [--n 5000] [--threads 8] [--small]
"""

from __future__ import annotations

import argparse
import contextlib
import time

import psutil

from bench import common
from bench.common import CouldNotMeasure, say
from bench.pipeline import create_via_api


def worker_rss(proc: common.Proc) -> int:
    """RSS of the worker process that runs the actors (the largest child of the dramatiq parent)."""
    try:
        children = psutil.Process(proc.pid).children(recursive=True)
    except psutil.Error:
        children = []
    sizes = []
    for child in children:
        with contextlib.suppress(psutil.Error):
            sizes.append(child.memory_info().rss)
    if not sizes:
        raise CouldNotMeasure(f"no worker process found:\n{proc.tail()}")
    return max(sizes)


def run(args: argparse.Namespace) -> None:
    import psycopg

    n = 150 if args.small else args.n
    first = max(10, n // 10)
    say(f"# memory: 1 worker process x {args.threads} threads renders {n} reports; machine: {common.machine()}")
    with common.engines(durable=not args.no_fsync) as found:
        found.reset()
        create_via_api(found, n)
        worker = common.dramatiq_workers(found, "reportsvc.tasks", 1, args.threads, found.tmp / "memory.log")
        samples: list[tuple[int, int]] = []
        try:
            with psycopg.connect(found.conninfo(), autocommit=True) as conn:

                def ready() -> int:
                    row = conn.execute("SELECT count(*) FROM report_requests WHERE status = 'READY'").fetchone()
                    return int(row[0]) if row else 0

                started = time.monotonic()
                common.wait_until(lambda: ready() >= first, timeout=60 + first, what="first reports",
                                  alive=worker.alive, interval=0.05)
                early = worker_rss(worker)
                samples.append((ready(), early))
                say(f"after {samples[-1][0]:>5} reports: RSS {early / 2**20:7.1f} MiB")
                next_report = time.monotonic() + 15
                while True:
                    done = ready()
                    if done >= n:
                        break
                    if not worker.alive():
                        raise CouldNotMeasure(f"worker exited:\n{worker.tail()}")
                    if time.monotonic() > started + 60 + n:
                        raise CouldNotMeasure(f"only {done} of {n} reports READY in time")
                    if time.monotonic() > next_report:
                        say(f"after {done:>5} reports: RSS {worker_rss(worker) / 2**20:7.1f} MiB")
                        next_report = time.monotonic() + 15
                    time.sleep(0.2)
                late = worker_rss(worker)
                samples.append((ready(), late))
                say(f"after {samples[-1][0]:>5} reports: RSS {late / 2**20:7.1f} MiB "
                    f"({n / (time.monotonic() - started):.1f} reports/s)")
        finally:
            worker.stop()
    common.ratio_line("memory_growth", late / early, "<=", 1.1)


def main(argv: list[str] | None = None) -> int:
    p = common.parser("RSS of one worker process over many reports")
    p.add_argument("--n", type=int, default=5000, help="reports to render (default 5000)")
    p.add_argument("--threads", type=int, default=8, help="worker threads (default 8)")
    return common.run_main(run, p.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
