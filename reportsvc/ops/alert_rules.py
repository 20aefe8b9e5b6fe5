"""The alert rules: each measures one thing and says whether it is past its threshold (settings in config/push.py).

A rule returns an Observation; `reportsvc.state.alerts.observe` turns a series of them into one "fired" and one
"resolved" event per incident. Every measurement is O(number of queues) in Redis or one indexed query.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import redis
from sqlalchemy import text

from reportsvc.config import Settings
from reportsvc.extensions import db
from reportsvc.names import QUEUES, SCHEDULER_BEATS_KEY
from reportsvc.queues import QueueKeys, all_queue_stats, is_worker_alive
from reportsvc.queues.workers import worker_beats
from reportsvc.state.alerts import Observation

#: A consuming worker touches the heartbeat set at least once a second (its delay-queue fetch loop), and a stopped
#: one's entry stays there until Dramatiq's maintenance prunes it (60 s): fresher than this counts as alive, as in
#: the console's footer.
WORKER_FRESH_MS = 5_000

#: The rules by name, in the order the Alerts page lists them.
RULE_NAMES = ("dead_letters", "no_worker", "oldest_waiting", "failure_ratio", "scheduler_missing")


def dead_letters(client: redis.Redis, settings: Settings) -> Observation:
    """Fires when a queue holds more than ALERT_DEAD_LETTERS dead letters."""
    limit = settings.push.alert_dead_letters
    stats = all_queue_stats(client, list(QUEUES))
    worst = max(stats, key=lambda s: s.dead)
    return Observation("dead_letters", worst.dead > limit, float(worst.dead),
                       f"queue {worst.queue} holds {worst.dead} dead letters (more than {limit} fires)")


def no_worker(client: redis.Redis, settings: Settings) -> Observation:
    """Fires when work waits and no worker has been alive for ALERT_NO_WORKER_SECONDS."""
    now_ms = time.time() * 1000
    alive = sum(1 for _, beat in worker_beats(client, QueueKeys.of(QUEUES[0]))
                if is_worker_alive(beat, now_ms, WORKER_FRESH_MS))
    waiting = sum(s.waiting + s.delayed for s in all_queue_stats(client, list(QUEUES)))
    seconds = settings.push.alert_no_worker_seconds
    return Observation("no_worker", alive == 0 and waiting > 0, float(waiting),
                       f"no worker alive while {waiting} messages wait (for {seconds:g} s fires)"
                       if alive == 0 else f"{alive} workers alive", for_seconds=seconds)


def oldest_waiting(client: redis.Redis, settings: Settings) -> Observation:
    """Fires when a queue's oldest waiting message is older than ALERT_OLDEST_WAITING_SECONDS."""
    limit = settings.push.alert_oldest_waiting_seconds
    stats = all_queue_stats(client, list(QUEUES))
    worst = max(stats, key=lambda s: s.next_age_s or 0.0)
    age = worst.next_age_s or 0.0
    return Observation("oldest_waiting", age > limit, round(age, 1),
                       f"oldest waiting message in {worst.queue} is {age:.0f} s old (over {limit:g} s fires)")


_FINISHED = text(
    "SELECT count(*) FILTER (WHERE status = 'FAILED'), count(*) FROM report_requests"
    " WHERE finished_at > now() - make_interval(secs => :window) AND status IN ('READY', 'FAILED')"
)


def failure_ratio(client: redis.Redis, settings: Settings) -> Observation:
    """Fires when over ALERT_FAILURE_RATIO of the reports finished in the window failed (enough finished)."""
    push = settings.push
    failed, total = db.session.execute(_FINISHED, {"window": push.alert_failure_window_seconds}).one()
    db.session.rollback()
    ratio = failed / total if total else 0.0
    breached = total >= push.alert_failure_min_count and ratio > push.alert_failure_ratio
    return Observation("failure_ratio", breached, round(ratio, 3),
                       f"{failed} of {total} reports finished in the last {push.alert_failure_window_seconds:g} s "
                       f"failed ({ratio:.0%}; over {push.alert_failure_ratio:.0%} of at least "
                       f"{push.alert_failure_min_count} fires)")


def scheduler_missing(client: redis.Redis, settings: Settings) -> Observation:
    """Fires when a scheduler that used to beat has not been seen for ALERT_SCHEDULER_SECONDS.

    Seen by the other schedulers (the one that stopped cannot tell); a scheduler that stops cleanly leaves the
    set. With a single scheduler, only Prometheus's rule on reportsvc_scheduler_last_seen_timestamp_seconds
    notices it is gone: nothing inside reportsvc is left to evaluate this rule.
    """
    limit = settings.push.alert_scheduler_seconds
    now = time.time()
    stale: list[tuple[bytes, float]] = client.zrangebyscore(SCHEDULER_BEATS_KEY, 0, (now - limit) * 1000,
                                                             withscores=True)  # type: ignore[assignment]
    age = max((now - score / 1000 for _, score in stale), default=0.0)
    names = ", ".join(member.decode() for member, _ in stale[:3])
    return Observation("scheduler_missing", bool(stale), round(age, 1),
                       f"scheduler {names} not seen for {age:.0f} s (over {limit:g} s fires)" if stale
                       else "every scheduler seen recently")


RULES: dict[str, Callable[[redis.Redis, Settings], Observation]] = {
    "dead_letters": dead_letters,
    "no_worker": no_worker,
    "oldest_waiting": oldest_waiting,
    "failure_ratio": failure_ratio,
    "scheduler_missing": scheduler_missing,
}
