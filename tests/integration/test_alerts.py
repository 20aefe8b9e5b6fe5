"""Alert rules against real workers, real dead letters and a real SMTP server: fire once, resolve once."""

from __future__ import annotations

import re
import socket
import threading
import time
from dataclasses import replace

import pytest
import yaml
from aiosmtpd.controller import Controller

from reportsvc import metrics
from reportsvc.config import get_settings
from tests.conftest import ROOT, wait_for, wait_status


class Inbox:
    """Collects what the SMTP server receives."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], str]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd hook name)
        self.messages.append((list(envelope.rcpt_tos), envelope.content.decode()))
        return "250 OK"

    def subjects(self) -> list[str]:
        return [re.search(r"^Subject: (.*?)\r?$", body, re.M).group(1) for _, body in self.messages]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def inbox():
    box = Inbox()
    controller = Controller(box, hostname="127.0.0.1", port=_free_port())
    controller.start()
    box.port = controller.port
    yield box
    controller.stop()


@pytest.fixture
def alerting(settings, base_settings, inbox):
    """Alert emails to oncall@example.com through the test SMTP server, with short thresholds."""
    def apply(**push_changes):
        short = {"alert_emails": ("oncall@example.com",), "alert_dead_letters": 0, "alert_no_worker_seconds": 1.0,
                 "alert_oldest_waiting_seconds": 2.0, "alert_failure_ratio": 0.5, "alert_failure_min_count": 2,
                 "alert_failure_window_seconds": 300, "alert_scheduler_seconds": 1.0, "alert_cooldown_seconds": 0}
        push = replace(base_settings.push, **(short | push_changes))
        return settings(email_host="127.0.0.1", email_port=inbox.port, push=push, report_max_retries=0)
    apply()
    return apply


def evaluate(app, redis_client, who="scheduler-a"):
    from reportsvc.ops import alerts

    with app.app_context():
        return alerts.evaluate(redis_client, get_settings(), who)


def events(app, rule=None):
    from reportsvc.state import alerts

    with app.app_context():
        rows = [(e.rule, e.kind, e.notify) for e in reversed(alerts.history())]
    return [r for r in rows if rule is None or r[0] == rule]


def test_dead_letters_fire_once_and_resolve_once(app, client, alerting, inbox, redis_client, make_worker):
    alerting()
    w = make_worker()
    report_id = client.post("/reports", json={"params": {"simulate": {"fail_times": 9}}}).get_json()["id"]
    wait_status(client, report_id, {"FAILED"}, timeout=40)
    wait_for(lambda: redis_client.zcard("dramatiq:reports.XQ") == 1, timeout=20)
    for _ in range(3):
        evaluate(app, redis_client)
    assert events(app, "dead_letters") == [("dead_letters", "fired", "sent")]
    assert [s for s in inbox.subjects() if "dead_letters" in s] == ["[reportsvc] FIRING: dead_letters"]
    # The operator deletes it for real; the alert resolves once.
    dead = client.get("/queues/reports/dead").get_json()["items"]
    response = client.post("/queues/reports/dead/delete", json={"ids": [dead[0]["redis_id"]]})
    assert response.status_code == 200, response.get_data(as_text=True)
    for _ in range(3):
        evaluate(app, redis_client)
    assert events(app, "dead_letters") == [("dead_letters", "fired", "sent"), ("dead_letters", "resolved", "sent")]
    assert [s for s in inbox.subjects() if "dead_letters" in s] == [
        "[reportsvc] FIRING: dead_letters", "[reportsvc] RESOLVED: dead_letters"]
    assert inbox.messages[0][0] == ["oncall@example.com"]
    w.stop()


def test_no_worker_fires_after_its_time_and_resolves_when_a_worker_starts(app, client, alerting, inbox,
                                                                          redis_client, make_worker):
    alerting()
    first = make_worker()
    wait_status(client, client.post("/reports", json={}).get_json()["id"], {"READY"})
    first.stop()
    report_id = client.post("/reports", json={}).get_json()["id"]
    evaluate(app, redis_client)
    # The stopped worker's last beat must age past the freshness window, then the rule's own second.
    wait_for(lambda: (evaluate(app, redis_client), events(app, "no_worker"))[1], timeout=15, interval=0.3)
    assert events(app, "no_worker") == [("no_worker", "fired", "sent")]
    make_worker()
    wait_status(client, report_id, {"READY"})
    wait_for(lambda: (evaluate(app, redis_client), len(events(app, "no_worker")) == 2)[1], timeout=10, interval=0.3)
    evaluate(app, redis_client)
    assert events(app, "no_worker") == [("no_worker", "fired", "sent"), ("no_worker", "resolved", "sent")]
    assert [s for s in inbox.subjects() if "no_worker" in s] == [
        "[reportsvc] FIRING: no_worker", "[reportsvc] RESOLVED: no_worker"]


def test_oldest_waiting_fires_and_resolves_once(app, client, alerting, redis_client, make_worker):
    alerting()
    report_id = client.post("/reports", json={}).get_json()["id"]
    evaluate(app, redis_client)
    assert events(app, "oldest_waiting") == []
    time.sleep(2.2)
    evaluate(app, redis_client)
    evaluate(app, redis_client)
    assert events(app, "oldest_waiting") == [("oldest_waiting", "fired", "sent")]
    make_worker()
    wait_status(client, report_id, {"READY"})
    evaluate(app, redis_client)
    evaluate(app, redis_client)
    assert events(app, "oldest_waiting") == [("oldest_waiting", "fired", "sent"),
                                             ("oldest_waiting", "resolved", "sent")]


def test_failure_ratio_fires_and_resolves_once(app, client, alerting, settings, redis_client, make_worker):
    alerting()
    make_worker()
    failing = [client.post("/reports", json={"params": {"simulate": {"fail_times": 9}}}).get_json()["id"]
               for _ in range(2)]
    for report_id in failing:
        wait_status(client, report_id, {"FAILED"}, timeout=40)
    evaluate(app, redis_client)
    evaluate(app, redis_client)
    assert events(app, "failure_ratio") == [("failure_ratio", "fired", "sent")]
    good = [client.post("/reports", json={}).get_json()["id"] for _ in range(3)]
    for report_id in good:
        wait_status(client, report_id, {"READY"})
    evaluate(app, redis_client)
    evaluate(app, redis_client)
    assert events(app, "failure_ratio") == [("failure_ratio", "fired", "sent"), ("failure_ratio", "resolved", "sent")]


def _silence(redis_client, seconds: float) -> None:  # type: ignore[no-untyped-def]
    """Every scheduler's last beat moves `seconds` into the past: as if all of them had been quiet that long.

    The scheduler tests age the beats instead of sleeping past a 1 s threshold: with sleeps, the scheduler
    that stays (a) was judged by b's evaluation on a beat as old as a's own last evaluation took, which on a
    loaded machine (one of them sends an email) can pass a 1 s threshold. With a 30 s threshold and beats
    aged by a minute, only what the test ages is ever stale."""
    from reportsvc.names import SCHEDULER_BEATS_KEY

    for member, score in redis_client.zrange(SCHEDULER_BEATS_KEY, 0, -1, withscores=True):
        redis_client.zadd(SCHEDULER_BEATS_KEY, {member: score - seconds * 1000})


#: The scheduler tests' threshold, and how long they make a scheduler quiet: far apart, so the real time an
#: evaluation takes never decides the outcome.
SCHEDULER_SECONDS, QUIET_SECONDS = 30.0, 60.0


def test_a_scheduler_that_stops_beating_fires_and_resolves_when_it_is_back(app, alerting, redis_client):
    alerting(alert_scheduler_seconds=SCHEDULER_SECONDS)
    evaluate(app, redis_client, "scheduler-a")
    evaluate(app, redis_client, "scheduler-b")
    _silence(redis_client, QUIET_SECONDS)
    evaluate(app, redis_client, "scheduler-a")  # b has been quiet for a minute
    evaluate(app, redis_client, "scheduler-a")
    assert events(app, "scheduler_missing") == [("scheduler_missing", "fired", "sent")]
    evaluate(app, redis_client, "scheduler-b")  # b is back
    assert events(app, "scheduler_missing")[-1][:2] == ("scheduler_missing", "resolved")
    assert len(events(app, "scheduler_missing")) == 2


def test_a_scheduler_that_stops_cleanly_is_not_missing(app, alerting, redis_client):
    from reportsvc.ops import alerts

    alerting(alert_scheduler_seconds=SCHEDULER_SECONDS)
    evaluate(app, redis_client, "scheduler-a")
    evaluate(app, redis_client, "scheduler-b")
    alerts.leave(redis_client, "scheduler-b")
    _silence(redis_client, QUIET_SECONDS)  # had b stayed in the set, its beat would be a minute old now
    evaluate(app, redis_client, "scheduler-a")
    assert events(app, "scheduler_missing") == []


def test_cooldown_holds_a_refiring_rule_silent(app, alerting, inbox, redis_client):
    alerting(alert_cooldown_seconds=60, alert_scheduler_seconds=SCHEDULER_SECONDS)
    evaluate(app, redis_client, "scheduler-a")
    evaluate(app, redis_client, "scheduler-b")
    for _ in range(2):  # b goes quiet, comes back; twice
        _silence(redis_client, QUIET_SECONDS)
        evaluate(app, redis_client, "scheduler-a")
        evaluate(app, redis_client, "scheduler-b")
    assert events(app, "scheduler_missing") == [
        ("scheduler_missing", "fired", "sent"), ("scheduler_missing", "resolved", "sent"),
        ("scheduler_missing", "fired", "suppressed"), ("scheduler_missing", "resolved", "suppressed")]
    assert len([s for s in inbox.subjects() if "scheduler_missing" in s]) == 2


def test_two_schedulers_evaluating_at_once_notify_once(app, client, alerting, inbox, redis_client):
    from reportsvc.ops import sweeper

    alerting()
    client.post("/reports", json={})
    time.sleep(2.2)  # oldest_waiting and no_worker are past their thresholds now
    barrier = threading.Barrier(2)

    def run(who):
        barrier.wait()
        for _ in range(5):
            evaluate(app, redis_client, who)

    # Without the shared Redis lock too: the rule's row lock alone must keep one incident to one event.
    original = sweeper.redis_lock
    with pytest.MonkeyPatch.context() as mp:
        from contextlib import contextmanager

        @contextmanager
        def always(client_, name, ttl_ms):
            with original(client_, f"{name}-{threading.get_ident()}", ttl_ms) as lock:
                yield lock

        mp.setattr(sweeper, "redis_lock", always)
        threads = [threading.Thread(target=run, args=(who,)) for who in ("scheduler-a", "scheduler-b")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert events(app, "oldest_waiting") == [("oldest_waiting", "fired", "sent")]
    assert [s for s in inbox.subjects() if "oldest_waiting" in s] == ["[reportsvc] FIRING: oldest_waiting"]


def test_banner_shows_on_every_console_page_while_a_rule_fires(app, client, alerting, redis_client):
    from reportsvc.web import console_alerts

    alerting()
    client.post("/reports", json={})
    time.sleep(2.2)
    evaluate(app, redis_client)
    console_alerts.reset_banner_cache()
    for page in ("/console/", "/console/queues", "/console/workers", "/console/audit", "/console/alerts"):
        html = client.get(page).get_data(as_text=True)
        banner = html.split('id="alert-banner"', 1)[1].split('id="flashes"', 1)[0]
        assert 'data-rule="oldest_waiting"' in banner, page
    alerts_page = client.get("/console/alerts").get_data(as_text=True)
    assert 'id="alert-history"' in alerts_page and 'data-kind="fired"' in alerts_page


def test_banner_is_empty_when_nothing_fires(client):
    from reportsvc.web import console_alerts

    console_alerts.reset_banner_cache()
    html = client.get("/console/").get_data(as_text=True)
    assert "alerts firing" not in html and "alert firing" not in html


def test_every_metric_the_prometheus_rules_use_exists_in_metrics(app, client, alerting, redis_client, worker):
    # Counters appear once they moved: one report READY and one FAILED, and a scheduler evaluation, first.
    good = client.post("/reports", json={}).get_json()["id"]
    bad = client.post("/reports", json={"params": {"simulate": {"fail_times": 9}}}).get_json()["id"]
    wait_status(client, good, {"READY"})
    wait_status(client, bad, {"FAILED"})
    evaluate(app, redis_client)
    metrics.flush()
    rules = yaml.safe_load((ROOT / "deploy/prometheus/alerts.yml").read_text())
    exprs = [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    names = {name for expr in exprs for name in re.findall(r"\breportsvc_[a-z_]+\b", expr)}
    assert len(names) >= 5
    metrics.reset_cache()
    exported = client.get("/metrics").get_data(as_text=True)
    missing = [n for n in sorted(names) if not re.search(rf"^{n}(\{{| )", exported, re.M)]
    assert missing == []


def test_the_scheduler_process_evaluates_the_alert_rules_on_its_interval(app, alerting):
    from reportsvc.ops.scheduler import build_scheduler

    settings = alerting(alert_interval_seconds=3.0)
    scheduler = build_scheduler(app, settings)
    job = scheduler.get_job("alerts")
    assert job is not None and job.trigger.interval.total_seconds() == 3.0
