"""Console benchmark: the reports pages at 1,000 rows vs 1,000,000 rows.

Seeds `report_requests` with one `INSERT ... SELECT generate_series` on dedicated embedded engines, runs
`VACUUM ANALYZE` (what autovacuum does after a bulk load), then times the same requests through the
Flask test client at both sizes (two databases on the same engine, requests alternating between them
so machine load hits both sides alike): first page, a status-filtered page, a title search, an id-prefix
search, a deep keyset page (90 % down the table) and the live-row poll fragment (25 ids). The counts
cache is cleared before every timed request, so each one pays for the status counts it shows.

Every request returns the same amount of data at both sizes (the searched titles occur ~30 times among
the newest 1,000 rows at both sizes), so the ratio measures what the table's size costs.

    python -m bench.console [--small]

Ends with `ratio console_<name> <large/small median> target <= 1.5` per request.
"""

from __future__ import annotations

import dataclasses
import logging
import statistics
import time
from typing import Any

from bench import common
from bench.common import BenchEngines, CouldNotMeasure, say

TARGET = 1.5
ITERATIONS = 40
WARMUP = 5

SEED_SQL = """
INSERT INTO report_requests (id, status, progress, progress_message, created_at, updated_at, started_at,
                             finished_at, report_type, title, params, attempts, requested_by)
SELECT gen_random_uuid(),
       s.status,
       CASE s.status WHEN 'READY' THEN 100 WHEN 'RUNNING' THEN 40 ELSE 0 END,
       CASE s.status WHEN 'RUNNING' THEN 'Rendering charts' WHEN 'READY' THEN 'Done' ELSE NULL END,
       now() - make_interval(secs => (%(n)s - g) * 2),
       now() - make_interval(secs => (%(n)s - g) * 2),
       CASE WHEN s.status IN ('READY', 'FAILED', 'RUNNING') THEN now() - make_interval(secs => (%(n)s - g) * 2) END,
       CASE WHEN s.status IN ('READY', 'FAILED') THEN now() - make_interval(secs => (%(n)s - g) * 2 - 3) END,
       'operations',
       CASE WHEN %(n)s - g < 1000 AND (%(n)s - g) %% 33 = 7 THEN 'Quarterly audit ' || g
            ELSE 'Operations summary ' || g END,
       '{"window_hours": 24}'::jsonb,
       CASE s.status WHEN 'FAILED' THEN 4 WHEN 'PENDING' THEN 0 ELSE 1 END,
       'bench'
FROM generate_series(1, %(n)s) AS g
CROSS JOIN LATERAL (SELECT CASE
    WHEN g %% 1000 = 0 THEN 'PENDING'
    WHEN g %% 1000 = 1 THEN 'RUNNING'
    WHEN g %% 1000 BETWEEN 2 AND 51 THEN 'FAILED'
    WHEN g %% 1000 BETWEEN 52 AND 91 THEN 'CANCELLED'
    ELSE 'READY' END AS status) AS s
"""


def seed(found: BenchEngines, n: int) -> float:
    """Empty the table, insert n rows in one statement, VACUUM ANALYZE; returns seconds taken."""
    import psycopg

    started = time.perf_counter()
    with psycopg.connect(found.conninfo(), autocommit=True) as conn:
        conn.execute("TRUNCATE report_events, audit_log, report_requests RESTART IDENTITY CASCADE")
        conn.execute(SEED_SQL, {"n": n})  # type: ignore[arg-type]
        conn.execute("VACUUM ANALYZE report_requests")
    return time.perf_counter() - started


def requests_for(app: Any, token: str) -> dict[str, tuple[str, dict[str, str]]]:
    """The URLs to time (with an operator's bearer token), derived from the seeded data (same shape at every size)."""
    from sqlalchemy import text

    from reportsvc.extensions import db
    from reportsvc.state.queries import encode_cursor
    from reportsvc.web.cursors import sealed

    with app.app_context(), app.test_request_context():
        total = db.session.execute(text("SELECT count(*) FROM report_requests")).scalar_one()
        deep = db.session.execute(text(
            "SELECT created_at, id FROM report_requests ORDER BY created_at DESC, id DESC OFFSET :o LIMIT 1"
        ), {"o": int(total * 0.9)}).one()
        newest = [str(r[0]) for r in db.session.execute(text(
            "SELECT id FROM report_requests ORDER BY created_at DESC, id DESC LIMIT 25"))]
        middle = str(db.session.execute(text(
            "SELECT id FROM report_requests ORDER BY created_at DESC, id DESC OFFSET :o LIMIT 1"
        ), {"o": int(total * 0.5)}).scalar_one())
        # The console hands out sealed cursors only (issue 15): seal the deep one as a page link would be.
        deep_cursor = sealed("reports", encode_cursor(deep[0], deep[1]))
    auth = {"Authorization": f"Bearer {token}"}
    hx = {"HX-Request": "true", **auth}
    return {
        "first_page": ("/console/", auth),
        "filtered_page": ("/console/?status=FAILED", auth),
        "search_title": ("/console/?q=quarterly", hx),
        "search_id": (f"/console/?q={middle[:6]}", hx),
        "deep_page": (f"/console/?older={deep_cursor}", auth),
        "poll_fragment": ("/console/live?ids=" + ",".join(newest), hx),
    }


def timed_get(app: Any, url: str, headers: dict[str, str]) -> float:
    """Seconds for one GET with the counts cache cleared first."""
    from reportsvc.state import queries

    queries.clear_status_counts_cache()
    client = app.test_client()
    started = time.perf_counter()
    response = client.get(url, headers=headers)
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise CouldNotMeasure(f"GET {url} answered {response.status_code}")
    return elapsed


def compare(small: tuple[Any, str], large: tuple[Any, str], iterations: int) -> dict[str, tuple[float, float]]:
    """name -> (small median, large median); requests alternate between the sizes so load noise hits both."""
    (small_app, small_token), (large_app, large_token) = small, large
    small_reqs, large_reqs = requests_for(small_app, small_token), requests_for(large_app, large_token)
    out = {}
    for name in small_reqs:
        samples: tuple[list[float], list[float]] = ([], [])
        for i in range(WARMUP + iterations):
            pair = (timed_get(small_app, *small_reqs[name]), timed_get(large_app, *large_reqs[name]))
            if i >= WARMUP:
                samples[0].append(pair[0])
                samples[1].append(pair[1])
        out[name] = (statistics.median(samples[0]), statistics.median(samples[1]))
        say(f"  {name:<14} median {out[name][0] * 1000:7.2f} ms vs {out[name][1] * 1000:7.2f} ms")
    return out


def second_database(found: BenchEngines, name: str) -> BenchEngines:
    """The same engines with another, migrated database (the small table lives beside the large one)."""
    found.postgres.ensure_database(name)
    other = dataclasses.replace(found, database_url=found.postgres.url(name))
    common.migrate(other)
    return other


def body(args: Any) -> None:
    """Seed both sizes side by side, time every request alternately, print the ratio lines."""
    from reportsvc import create_app
    from reportsvc.config import load_settings

    small, large = (1_000, 5_000) if args.small else (1_000, 1_000_000)
    iterations = 15 if args.small else ITERATIONS
    say(f"console benchmark: {small:,} vs {large:,} rows; {common.machine()}")
    with common.engines(durable=not args.no_fsync) as found:
        small_db = second_database(found, "reportsvc_bench_small")
        for where, n in ((small_db, small), (found, large)):
            say(f"seeded {n:,} rows in {seed(where, n):.1f} s")
        small_app = create_app(load_settings(small_db.env()))
        large_app = create_app(load_settings(found.env()))
        logging.getLogger("reportsvc").setLevel(logging.WARNING)
        results = compare((small_app, small_db.api_token()), (large_app, found.api_token()), iterations)
    say("")
    say(f"{'request':<16}{small:>12,} rows{large:>14,} rows   ratio")
    for name, (a, b) in results.items():
        say(f"{name:<16}{a * 1000:>14.2f} ms{b * 1000:>14.2f} ms   {b / a:.2f}")
    for name, (a, b) in results.items():
        common.ratio_line(f"console_{name}", b / a, "<=", TARGET)


def main(argv: list[str] | None = None) -> int:
    """Entry point (`python -m bench.console [--small]`)."""
    p = common.parser(__doc__.splitlines()[0] if __doc__ else "console benchmark")
    return common.run_main(body, p.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
