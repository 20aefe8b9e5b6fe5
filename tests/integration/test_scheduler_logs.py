"""The scheduler starts quietly: no APScheduler "Adding job tentatively" line per job."""

from __future__ import annotations

import logging


def test_building_the_scheduler_logs_no_adding_job_lines(app, caplog):
    from reportsvc.ops.scheduler import build_scheduler

    logging.getLogger("apscheduler").setLevel(logging.NOTSET)  # as a fresh process starts
    caplog.set_level(logging.INFO)
    with app.app_context():
        scheduler = build_scheduler(app, app.extensions["reportsvc.settings"])
    assert len(scheduler.get_jobs()) >= 5
    assert [r.getMessage() for r in caplog.records if "tentatively" in r.getMessage()] == []
