"""Table report benchmark: the worker's RSS while it renders a 100,000-row table, against a 10,000-row one.

One `dramatiq reportsvc.tasks` worker process (1 thread) renders a `table` report of a dataset over
`generate_series` twice: 10,000 rows (the baseline, after a warm-up report) and then 100,000 rows. The
worker's RSS is sampled every 50 ms during each; rows stream from a server-side cursor and only the
first rows are held, so ten times the rows must not mean ten times the memory.

    ratio table_memory <peak RSS at 100,000 rows / peak RSS at 10,000 rows> target <= 1.5

    python -m bench.table_memory [--rows 100000] [--small]
"""

from __future__ import annotations

import argparse
import contextlib
import time

from bench import common
from bench.common import CouldNotMeasure, say
from bench.memory import worker_rss

DATASETS = '''
[datasets.numbers]
description = "Rows with a date, a label, a count and an amount"
sql = """SELECT date '2026-01-01' + (n % 365) AS day, 'customer number ' || n AS customer, n AS orders,
         n * 1.25 AS amount FROM generate_series(1, :count) AS n"""
totals = ["orders", "amount"]
[datasets.numbers.params.count]
type = "int"
default = 1000
'''


def run(args: argparse.Namespace) -> None:
    import psycopg

    from reportsvc import create_app
    from reportsvc.config import load_settings

    big = 20_000 if args.small else args.rows
    base = max(1000, big // 10)
    say(f"# table_memory: one worker renders {base:,} then {big:,} table rows; machine: {common.machine()}")
    with common.engines(durable=not args.no_fsync) as found:
        datasets = found.tmp / "datasets.toml"
        datasets.write_text(DATASETS)
        env = {"REPORT_DATASETS_FILE": str(datasets), "REPORT_MAX_ROWS": str(big),
               "REPORT_TIME_LIMIT_SECONDS": "3600"}
        token = found.api_token()
        client = create_app(load_settings(found.env(**env))).test_client()
        worker = common.dramatiq_workers(found, "reportsvc.tasks", 1, 1, found.tmp / "table.log", **env)

        def render(count: int) -> tuple[int, float]:
            response = client.post("/reports", json={"report_type": "table.numbers", "params": {"count": count}},
                                   headers={"Authorization": f"Bearer {token}"})
            if response.status_code != 202:
                raise CouldNotMeasure(f"POST /reports answered {response.status_code}: {response.get_data()!r}")
            report_id = response.get_json()["id"]
            peak, started = 0, time.monotonic()
            with psycopg.connect(found.conninfo(), autocommit=True) as conn:
                while True:
                    row = conn.execute("SELECT status, error_message FROM report_requests WHERE id = %s",
                                       (report_id,)).fetchone()
                    with contextlib.suppress(CouldNotMeasure):  # the worker process may still be forking
                        peak = max(peak, worker_rss(worker))
                    if row and row[0] in ("READY", "FAILED"):
                        break
                    if not worker.alive() or time.monotonic() - started > 1800:
                        raise CouldNotMeasure(f"the {count}-row report did not finish:\n{worker.tail()}")
                    time.sleep(0.05)
            if row[0] != "READY":
                raise CouldNotMeasure(f"the {count}-row report FAILED: {row[1]}")
            return peak, time.monotonic() - started

        try:
            render(100)  # warm-up: imports, fonts, pools
            base_peak, base_s = render(base)
            say(f"{base:>7,} rows: peak RSS {base_peak / 2**20:7.1f} MiB, {base_s:6.1f} s")
            big_peak, big_s = render(big)
            say(f"{big:>7,} rows: peak RSS {big_peak / 2**20:7.1f} MiB, {big_s:6.1f} s "
                f"({big / big_s:,.0f} rows/s)")
        finally:
            worker.stop()
    common.ratio_line("table_memory", big_peak / base_peak, "<=", 1.5)


def main(argv: list[str] | None = None) -> int:
    p = common.parser("worker RSS of a 100,000-row table report against a 10,000-row one")
    p.add_argument("--rows", type=int, default=100_000, help="rows of the big report (default 100000)")
    return common.run_main(run, p.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
