"""Cost benchmark: CPU milliseconds per one-page report, per process class, product vs a bare baseline.

For each variant, on the same engines, one after the other: an SMTP sink, a web server (gunicorn gthread,
1 worker x 4 threads) and `dramatiq` workers (1 process x 8 threads) start; a few warm-up reports run;
then N one-page reports (bench/_page_type.py) are created over HTTP by a load process and drained until
every one is READY and its email was accepted by the sink. CPU time (user + system, from /proc via
psutil, reaped children included) is read for each process tree before and after:

* web: the gunicorn tree; worker: the dramatiq tree (parent and worker processes);
* postgres: the postmaster and every backend; redis: valkey-server; smtp: the sink.
  The load generator (the client) is not counted.

* **reportsvc**: `bench._cost_app:app` (app:app) and `dramatiq bench._cost_tasks` (reportsvc.tasks), with
  the email (sent by the generate job, or as its own message with EMAIL_INLINE=0), events, progress,
  heartbeats, metrics, retries, the report's log, all middleware.
* **bare**: `bench/_cost_bare.py`: token check, INSERT, send; claim UPDATE, render, write, READY UPDATE,
  email from the same actor.

`--also NAME=VALUE[,NAME=VALUE...]` (repeatable) measures the product once more with those settings, e.g. a hot-path
setting's previous value, for a before/after in the same run. Prints a table of ms per report, Redis
commands per report (INFO commandstats), and

    ratio cost_total <reportsvc/bare> target <= 1.3
    ratio cost_worker <reportsvc/bare> target <= 1.3

`--statements` also loads pg_stat_statements (a restart of the bench PostgreSQL) and prints the product's
statements per report, most called first.

    python -m bench.cost [--n 1000] [--statements] [--small]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from bench import _page_type, api, common
from bench.common import BenchEngines, CouldNotMeasure, say

TARGET = 1.3
CLASSES = ("web", "worker", "postgres", "redis", "smtp")
VARIANTS = {
    "bare": ("bench._cost_bare:app", "bench._cost_bare"),
    "reportsvc": ("bench._cost_app:app", "bench._cost_tasks"),
}


@dataclass
class Cost:
    """CPU ms per report by process class for one variant."""

    variant: str
    n: int
    ms: dict[str, float] = field(default_factory=dict)
    redis_calls: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def total(self) -> float:
        return sum(self.ms.values())

    def line(self) -> str:
        parts = "  ".join(f"{k} {self.ms[k]:5.2f}" for k in CLASSES)
        return f"{self.variant:<9} n={self.n:<5} {parts}  total {self.total:6.2f} ms CPU/report  ({self.seconds:.1f} s)"


def count_lines(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except OSError:
        return 0


def run_variant(found: BenchEngines, variant: str, n: int, warm: int, extra: dict[str, str] | None = None) -> Cost:
    """Start sink, web and workers for one variant, warm up, then measure a drain of n reports.

    `extra` is more environment for the web and the workers (a setting's other value, for a before/after)."""
    extra = extra or {}
    label = " ".join([variant, *(f"{k}={v}" for k, v in extra.items())])
    import psycopg
    import redis

    from reportsvc.dev.engine_base import free_port

    found.reset()
    token = found.api_token()
    target, module = VARIANTS[variant]
    sink_port, inbox = free_port(), found.tmp / f"inbox-{variant}.txt"
    inbox.write_text("")
    mail_env = {"EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(sink_port), "EMAIL_DEFAULT_TO": "bench@example.com"}
    sink = common.Proc([sys.executable, "-m", "bench._smtp_sink", str(sink_port), str(inbox)],
                       found.env(), found.tmp / f"smtp-{variant}.log", "smtp sink")
    web = workers = None
    try:
        common.wait_until(lambda: "ready" in sink.log_path.read_text(), 30, "smtp sink start", alive=sink.alive)
        port = free_port()
        web = api.serve(found, target, port, "gthread:1x4", f"cost-{variant}", extra)
        workers = common.dramatiq_workers(found, module, 1, 8, found.tmp / f"workers-cost-{variant}.log",
                                          **mail_env, **extra)
        pids = {
            "web": [web.pid], "worker": [workers.pid], "smtp": [sink.pid],
            "postgres": [common.listener_pid(found.postgres.port)], "redis": [common.listener_pid(found.valkey.port)],
        }
        body = json.dumps({"title": "Cost report", "report_type": _page_type.NAME})
        client = redis.Redis.from_url(found.redis_url)
        with psycopg.connect(found.conninfo(), autocommit=True) as conn:

            def drained(total: int) -> bool:
                row = conn.execute("SELECT count(*) FILTER (WHERE status = 'READY'),"
                                   " count(*) FILTER (WHERE status = 'FAILED') FROM report_requests").fetchone()
                assert row is not None
                if row[1]:
                    tail = workers.tail() if workers else ""
                    raise CouldNotMeasure(f"{row[1]} reports FAILED under {variant}:\n{tail}")
                if int(row[0]) < total or count_lines(inbox) < total:
                    return False
                if variant == "reportsvc":  # the product records the email after the sink accepted it
                    sent = conn.execute("SELECT count(*) FROM report_events WHERE kind = 'email_sent'").fetchone()
                    return sent is not None and int(sent[0]) >= total
                return True

            def create(count: int) -> None:
                result = api.load(port, 600, 4, count, "create", token=token, body=body)
                if result["error_count"]:
                    raise CouldNotMeasure(f"{variant}: {result['error_count']} creates failed: {result['errors']}")

            alive = workers.alive
            create(warm)
            common.wait_until(lambda: drained(warm), 120, f"{variant} warm-up", interval=0.1, alive=alive)
            time.sleep(1.0)  # let the warm-up's trailing writes (metrics, events) settle
            client.config_resetstat()
            before = {k: sum(common.tree_cpu(p) for p in v) for k, v in pids.items()}
            started = time.monotonic()
            create(n)
            common.wait_until(lambda: drained(warm + n), 60 + n / 2, f"{variant} drain", interval=0.1, alive=alive)
            seconds = time.monotonic() - started
            after = {k: sum(common.tree_cpu(p) for p in v) for k, v in pids.items()}
            stats = client.info("commandstats")
        cost = Cost(label, n, {k: (after[k] - before[k]) * 1000 / n for k in CLASSES}, seconds=seconds)
        cost.redis_calls = {name.removeprefix("cmdstat_"): int(v["calls"]) / n for name, v in stats.items()
                            if name not in ("cmdstat_config", "cmdstat_info")}
        return cost
    finally:
        for proc in (workers, web, sink):
            if proc is not None:
                proc.stop()


def enable_statements(found: BenchEngines) -> None:
    """Load pg_stat_statements (needs a restart of the bench PostgreSQL)."""
    import psycopg

    with psycopg.connect(found.conninfo(), autocommit=True) as conn:
        conn.execute("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'")
    found.postgres.stop()
    found.postgres.start()
    with psycopg.connect(found.conninfo(), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")


def statements(found: BenchEngines, n: int) -> None:
    """Drain n product reports and print its statements per report, most called first."""
    import psycopg

    with psycopg.connect(found.conninfo(), autocommit=True) as conn:
        conn.execute("SELECT pg_stat_statements_reset()")
    run_variant(found, "reportsvc", n, 0)
    with psycopg.connect(found.conninfo(), autocommit=True) as conn:
        rows = conn.execute("SELECT calls, total_exec_time, query FROM pg_stat_statements"
                            " WHERE query NOT ILIKE '%pg_stat_statements%' ORDER BY calls DESC LIMIT 25").fetchall()
    say(f"# reportsvc statements per report (pg_stat_statements, {n} reports, warm-up included)")
    for calls, ms, query in rows:
        say(f"{calls / n:6.2f}  {ms / max(calls, 1):6.3f} ms  {' '.join(str(query).split())[:150]}")


def run(args: argparse.Namespace) -> None:
    n, warm = (40, 5) if args.small else (args.n, 50)
    say(f"# cost: CPU ms per one-page report by process class, {n} reports per variant, web gunicorn gthread 1x4, "
        f"workers 1x8; machine: {common.machine()}; load average {psutil.getloadavg()[0]:.1f}")
    with common.engines(durable=not args.no_fsync) as found:
        results = {}
        for variant in ("bare", "reportsvc"):
            results[variant] = run_variant(found, variant, n, warm)
            say(results[variant].line())
        for settings in args.also:
            extra = dict(setting.partition("=")[::2] for setting in settings.split(","))
            other = run_variant(found, "reportsvc", n, warm, extra)
            results[other.variant] = other
            say(other.line())
        for variant, cost in results.items():
            calls = ", ".join(f"{k} {v:.1f}" for k, v in sorted(cost.redis_calls.items(), key=lambda kv: -kv[1]))
            say(f"{variant:<9} redis calls/report: {sum(cost.redis_calls.values()):.1f} ({calls})")
        if args.statements:
            enable_statements(found)
            found.reset()
            statements(found, n)
    bare, ours = results["bare"], results["reportsvc"]
    say(f"absolute: reportsvc total {ours.total:.2f} ms, worker {ours.ms['worker']:.2f} ms; "
        f"bare total {bare.total:.2f} ms, worker {bare.ms['worker']:.2f} ms")
    common.ratio_line("cost_total", ours.total / bare.total, "<=", TARGET)
    common.ratio_line("cost_worker", ours.ms["worker"] / bare.ms["worker"], "<=", TARGET)


def main(argv: list[str] | None = None) -> int:
    p = common.parser("CPU ms per one-page report, by process class: reportsvc vs a bare baseline")
    p.add_argument("--n", type=int, default=1000, help="reports per variant (default 1000)")
    p.add_argument("--statements", action="store_true", help="also print the product's statements per report")
    p.add_argument("--also", action="append", default=[], metavar="NAME=VALUE[,NAME=VALUE]",
                   help="also measure reportsvc with these settings (a before/after in one run); repeatable")
    return common.run_main(run, p.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
