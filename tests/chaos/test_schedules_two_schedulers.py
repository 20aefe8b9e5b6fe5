"""Two real scheduler processes polling 200 due schedules make exactly one report per slot."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from reportsvc.extensions import db
from reportsvc.names import SCHEDULER_BEATS_KEY
from reportsvc.ops import schedules
from tests.chaos.harness import process_env, scheduler_proc
from tests.conftest import wait_for

SCHEDULES = 200
SLOT = datetime(2026, 1, 1, tzinfo=UTC)  # every schedule's one due slot (yearly cron), long past


@pytest.mark.slow
def test_two_schedulers_over_200_due_schedules_make_exactly_one_report_per_slot(app, base_settings, procs, tmp_path,
                                                                              redis_client):
    with app.app_context():
        ids = [schedules.create({"name": f"yearly {i:03d}", "cron": "0 0 1 1 *", "timezone": "UTC",
                                 "report_type": "operations", "params": {}, "title": None, "recipients": [],
                                 "misfire": "latest"}, actor="pytest", via="test").id
               for i in range(SCHEDULES)]  # not due yet: next 1 January
    extra = {"SCHEDULE_POLL_SECONDS": "0.2", "SCHEDULE_BATCH_SIZE": "20"}
    for n in range(2):
        proc = scheduler_proc(base_settings, tmp_path / f"scheduler-{n}.log")
        proc.env = process_env(base_settings, **extra)
        procs.append(proc.start())
    # Both schedulers running their jobs before anything is due: had the slots been due at start, a scheduler
    # slow to start on a loaded machine could find the other done with all 200 and make none. Each one's first
    # alert evaluation (at the same instant as its first poll) puts it in the scheduler set.
    pids = {str(proc.popen.pid) for proc in procs if proc.popen}
    wait_for(lambda: pids <= {m.decode().rsplit(":", 1)[-1] for m in redis_client.zrange(SCHEDULER_BEATS_KEY, 0, -1)},
             timeout=60, interval=0.2)
    with app.app_context():  # all 200 due at one instant, as after an outage
        db.session.execute(text("UPDATE report_schedules SET next_run_at = :slot, updated_by = 'pytest'"
                                " WHERE id = ANY(:ids)"), {"slot": SLOT, "ids": ids})
        db.session.commit()
    started = time.monotonic()

    def pending() -> int:
        with app.app_context():
            left = db.session.execute(text("SELECT count(*) FROM report_schedules WHERE next_run_at <= now()")).scalar()
            db.session.rollback()
            return int(left or 0)

    wait_for(lambda: pending() == 0, timeout=60, interval=0.2)
    elapsed = time.monotonic() - started
    time.sleep(1.0)  # a few more polls of both: still nothing more
    with app.app_context():
        per_slot = db.session.execute(text(
            "SELECT schedule_id, scheduled_for, count(*) FROM report_requests GROUP BY 1, 2")).all()
        total = db.session.execute(text("SELECT count(*) FROM report_requests")).scalar()
    assert total == SCHEDULES
    assert len(per_slot) == SCHEDULES and {row[1] for row in per_slot} == {SLOT}
    assert all(row[2] == 1 for row in per_slot)
    made = [sum(int(n) for n in re.findall(r"schedules: examined \d+, made (\d+) reports", proc.log_text()))
            for proc in procs]
    print(f"200 schedules done in {elapsed:.1f} s; reports made per scheduler: {made}")
    assert sum(made) == SCHEDULES
    assert all(m > 0 for m in made), made  # SKIP LOCKED shared the work: both schedulers made reports
