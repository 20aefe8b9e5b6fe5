"""An alert email states its time the way the console does (`2026-12-05 11:03:22 UTC`); its webhook keeps ISO."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from reportsvc.ops.alert_notify import compose, webhook_body
from reportsvc.state.alerts import AlertEvent

PARIS = timezone(timedelta(hours=1))


def test_the_alert_email_gives_its_time_in_utc_in_the_consoles_form_and_the_webhook_in_iso():
    event = AlertEvent(id=7, rule="dead_letters", kind="fired", value=3.0, message="3 dead letters",
                       at=datetime(2026, 12, 5, 12, 3, 22, 512000, tzinfo=PARIS))
    subject, body = compose(event, "http://reports.test")
    assert subject == "[reportsvc] FIRING: dead_letters"
    assert "\nat: 2026-12-05 11:03:22 UTC\n" in body and "T11:03" not in body and "+01:00" not in body
    assert json.loads(webhook_body(event))["at"] == "2026-12-05T12:03:22.512000+01:00"
