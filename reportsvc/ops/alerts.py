"""Alert evaluation: the scheduler runs `evaluate` every ALERT_INTERVAL_SECONDS.

Each run first notes that this scheduler is alive (the scheduler_missing rule reads those beats), then, under
the schedulers' shared Redis lock, measures every rule (`alert_rules`), records firings and resolutions in
PostgreSQL (`state.alerts.observe`, which also serialises on the rule's row, so a lock that expired mid-run
still cannot make two incidents of one) and sends the notifications owed (`alert_notify`).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time

import redis

from reportsvc.config import Settings
from reportsvc.names import EVENTS_CHANNEL, SCHEDULER_BEATS_KEY
from reportsvc.ops import alert_notify, alert_rules, sweeper
from reportsvc.state import alerts

log = logging.getLogger("reportsvc.ops.alerts")

#: Scheduler beats older than this are forgotten (a scheduler gone for a day is not "missing" forever).
FORGET_AFTER_SECONDS = 86_400


def scheduler_id() -> str:
    """This process as the scheduler set names it: host:pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


def beat(client: redis.Redis, who: str) -> None:
    """Note that this scheduler is alive now, and forget schedulers gone for a day."""
    now_ms = time.time() * 1000
    pipe = client.pipeline(transaction=False)
    pipe.zadd(SCHEDULER_BEATS_KEY, {who: now_ms})
    pipe.zremrangebyscore(SCHEDULER_BEATS_KEY, 0, now_ms - FORGET_AFTER_SECONDS * 1000)
    pipe.execute()


def leave(client: redis.Redis, who: str) -> None:
    """A scheduler that stops cleanly leaves the set: stopping on purpose is not an incident."""
    client.zrem(SCHEDULER_BEATS_KEY, who)


def _announce(client: redis.Redis, changes: list[str]) -> None:
    """Tell open console streams that an alert fired or resolved (their banners refresh)."""
    try:
        client.publish(EVENTS_CHANNEL, json.dumps({"type": "alert", "changes": changes}))
    except redis.RedisError as exc:
        log.debug("alert event not published: %s", exc)


def evaluate(client: redis.Redis, settings: Settings, who: str | None = None) -> str:
    """One evaluation of every rule plus the notifications owed; a summary line for the log."""
    beat(client, who or scheduler_id())
    ttl_ms = int(max(10.0, settings.push.alert_interval_seconds * 3) * 1000)
    with sweeper.redis_lock(client, "alerts", ttl_ms=ttl_ms) as held:
        if not held:
            return "examined 0, another scheduler holds the lock; skipped"
        push = settings.push
        notify = bool(push.alert_emails or push.alert_webhook_url)
        changes = []
        for name, rule in alert_rules.RULES.items():
            try:
                observation = rule(client, settings)
            except Exception as exc:  # one broken measurement must not silence the others
                log.warning("alert rule %s could not be measured: %s", name, exc)
                continue
            happened = alerts.observe(observation, cooldown_seconds=push.alert_cooldown_seconds, notify=notify)
            if happened:
                log.warning("alert %s %s: %s", name, happened, observation.message)
                changes.append(f"{name} {happened}")
        sent = alert_notify.deliver_pending(settings)
    if changes:
        _announce(client, changes)
    if not changes and not sent:
        return "examined 0, no alert changed"
    return f"{', '.join(changes) or 'no change'}; {sent} notifications sent"
