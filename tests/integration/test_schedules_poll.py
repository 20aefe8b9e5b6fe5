"""The scheduler's poll: one report per due slot, misfire policies, invalid schedules paused, recipients emailed."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, text

from reportsvc.extensions import db
from reportsvc.ops import schedules
from reportsvc.state import schedules as store
from reportsvc.state.models import ReportRequest
from tests.chaos.harness import ROOT, process_env
from tests.conftest import wait_for, wait_status
from tests.integration.test_email import smtp  # noqa: F401  (the aiosmtpd fixture)

FIELDS = {"cron": "* * * * *", "timezone": "UTC", "report_type": "operations", "params": {}, "title": None,
          "recipients": [], "misfire": "latest"}


def make(name: str, next_run_at: datetime, **changes):  # type: ignore[no-untyped-def]
    row = schedules.create(FIELDS | {"name": name} | changes, actor="pytest", via="test")
    schedule_id = row.id
    store.change(schedule_id, {"next_run_at": next_run_at}, "pytest")
    return schedule_id


def reports_of(schedule_id) -> list[ReportRequest]:  # type: ignore[no-untyped-def]
    db.session.rollback()
    return list(db.session.execute(select(ReportRequest).where(ReportRequest.schedule_id == schedule_id)
                                   .order_by(ReportRequest.created_at)).scalars())


def minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def test_a_due_slot_makes_one_report_and_moves_the_next_run(app, base_settings):
    with app.app_context():
        now = datetime.now(UTC)
        slot = minute(now)
        schedule_id = make("every minute", slot, title="Minutely {date}")
        result = schedules.poll(base_settings, now)
        assert (result.examined, result.made) == (1, 1)
        [report] = reports_of(schedule_id)
        assert report.scheduled_for == slot and report.status == "PENDING" and report.message_id
        assert report.title == f"Minutely {slot:%Y-%m-%d}" and report.requested_by == "schedule:every minute"
        row = store.get(schedule_id)
        assert row is not None and row.next_run_at == slot + timedelta(minutes=1)
        assert row.last_run_at == slot and row.last_report_id == report.id
        assert schedules.poll(base_settings, now).examined == 0  # nothing due until the next minute
        assert len(reports_of(schedule_id)) == 1


def test_a_paused_schedule_makes_nothing(app, base_settings):
    with app.app_context():
        now = datetime.now(UTC)
        schedule_id = make("paused", minute(now))
        row = store.get(schedule_id)
        assert row is not None
        schedules.pause(row, actor="pytest", via="test")
        assert schedules.poll(base_settings, now + timedelta(hours=1)).made == 0
        assert reports_of(schedule_id) == []


def test_misfire_latest_after_a_six_hour_outage_makes_one_report_for_the_latest_slot(app, base_settings):
    with app.app_context():
        now = datetime.now(UTC)
        schedule_id = make("outage latest", minute(now) - timedelta(hours=6))
        result = schedules.poll(base_settings, now)
        assert result.made == 1
        [report] = reports_of(schedule_id)
        assert report.scheduled_for == minute(now)  # the most recent missed slot, not the 360 before it
        row = store.get(schedule_id)
        assert row is not None and row.next_run_at == minute(now) + timedelta(minutes=1)


def test_misfire_skip_after_a_six_hour_outage_makes_nothing_and_waits_for_the_next_slot(app, base_settings):
    with app.app_context():
        now = datetime.now(UTC)
        # Hourly at :00, the last slot more than the grace (120 s) ago: every missed slot is skipped.
        schedule_id = make("outage skip", (now - timedelta(hours=6)).replace(minute=0, second=0, microsecond=0),
                           cron="0 * * * *", misfire="skip")
        at = now.replace(minute=30, second=0, microsecond=0)
        result = schedules.poll(base_settings, at)
        assert (result.made, result.skipped) == (0, 1)
        assert reports_of(schedule_id) == []
        row = store.get(schedule_id)
        assert row is not None and row.next_run_at == at.replace(minute=0) + timedelta(hours=1)


def test_misfire_skip_still_makes_a_slot_that_is_only_seconds_late(app, base_settings):
    with app.app_context():
        now = datetime.now(UTC)
        schedule_id = make("skip on time", minute(now), misfire="skip")
        assert schedules.poll(base_settings, minute(now) + timedelta(seconds=20)).made == 1
        assert len(reports_of(schedule_id)) == 1


def test_a_schedule_whose_type_disappeared_is_paused_with_its_reason(app, base_settings, client):
    with app.app_context():
        now = datetime.now(UTC)
        schedule_id = make("orphaned type", minute(now))
        # What uninstalling a plugin leaves behind: a stored type name nobody registers any more.
        db.session.execute(text("UPDATE report_schedules SET report_type = 'uninstalled_plugin' WHERE id = :id"),
                           {"id": schedule_id})
        db.session.commit()
        result = schedules.poll(base_settings, now)
        assert result.paused == ["orphaned type"] and result.made == 0
        row = store.get(schedule_id)
        assert row is not None and row.enabled is False and row.next_run_at is None
        assert "report_type" in (row.paused_reason or "") and "uninstalled_plugin" in (row.paused_reason or "")
        assert schedules.poll(base_settings, now + timedelta(minutes=5)).examined == 0  # not retried every poll
    body = client.get(f"/schedules/{schedule_id}").get_json()
    assert body["enabled"] is False and "uninstalled_plugin" in body["paused_reason"]
    resumed = client.post(f"/schedules/{schedule_id}/resume")
    assert resumed.status_code == 422 and resumed.get_json()["error"]["details"][0]["field"] == "report_type"


def test_a_scheduler_killed_between_insert_and_next_run_update_makes_no_duplicate(app, base_settings):
    with app.app_context():
        slot = minute(datetime.now(UTC))
        schedule_id = make("crashy", slot)
    # A real scheduler process that dies (os._exit: no rollback, no cleanup) right after the report's INSERT
    # committed, before its transaction moves next_run_at. It polls at a fixed instant inside the slot's minute:
    # on a loaded machine the clock could pass into the next minute while it starts, and a late poll runs the
    # latest due slot, not this one.
    script = textwrap.dedent(f"""
        import os
        from datetime import datetime
        from reportsvc import create_app
        from reportsvc.config import get_settings
        from reportsvc.ops import schedules

        real_submit = schedules._submit
        def submit_then_die(*args, **kwargs):
            real_submit(*args, **kwargs)
            os._exit(9)
        schedules._submit = submit_then_die
        app = create_app()
        with app.app_context():
            schedules.poll(get_settings(), datetime.fromisoformat("{(slot + timedelta(seconds=20)).isoformat()}"))
        raise SystemExit("the poll returned: it should have died")
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=process_env(base_settings),
                          capture_output=True, timeout=60)
    assert done.returncode == 9, done.stderr.decode()[-2000:]
    with app.app_context():
        row = store.get(schedule_id)
        assert row is not None and row.next_run_at == slot  # the update never committed
        assert len(reports_of(schedule_id)) == 1
        result = schedules.poll(base_settings, slot + timedelta(seconds=30))
        assert (result.made, result.already_made) == (0, 1)
        assert [r.scheduled_for for r in reports_of(schedule_id)] == [slot]
        db.session.rollback()
        row = store.get(schedule_id)
        assert row is not None and row.next_run_at == slot + timedelta(minutes=1)


def test_polls_take_bounded_batches(app, base_settings, settings):
    tuned = settings(schedule_batch_size=3)
    with app.app_context():
        now = datetime.now(UTC)
        for i in range(7):
            make(f"batch {i}", minute(now))
        assert schedules.poll(tuned, now).examined == 3
        assert schedules.poll_until_idle(tuned, now).made == 4
        assert db.session.execute(select(func.count()).select_from(ReportRequest)).scalar() == 7


def test_every_recipient_receives_the_scheduled_reports_email(app, client, worker, settings, smtp):  # noqa: F811
    controller, inbox = smtp
    tuned = settings(email_host="127.0.0.1", email_port=controller.port)
    with app.app_context():
        now = datetime.now(UTC)
        schedule_id = make("mailed", minute(now), recipients=["a@example.com", "b@example.com", "c@example.com"],
                           title="Weekly {week}")
        assert schedules.poll(tuned, now).made == 1
        [report] = reports_of(schedule_id)
        report_id = str(report.id)
    wait_status(client, report_id, {"READY"})
    wait_for(lambda: inbox.messages, timeout=15)
    [(_sender, recipients, content)] = inbox.messages
    assert sorted(recipients) == ["a@example.com", "b@example.com", "c@example.com"]
    assert f"/console/reports/{report_id}/download" in content and "Weekly " in content
