"""The Dramatiq broker: Redis, namespace "dramatiq", exact retry delays.

`setup_broker()` must run before any actor module is imported, because
actors bind to the global broker at declaration time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import (
    AgeLimit,
    Callbacks,
    CurrentMessage,
    Middleware,
    Pipelines,
    Retries,
    ShutdownNotifications,
    TimeLimit,
)

if TYPE_CHECKING:
    from .config import Settings

NAMESPACE = "dramatiq"
REPORTS_QUEUE = "reports"
NOTIFICATIONS_QUEUE = "notifications"
QUEUES = (REPORTS_QUEUE, NOTIFICATIONS_QUEUE)
# Actor names as they appear in message bodies; messages of these actors carry a report id as args[0].
GENERATE_ACTOR = "generate_report"
EMAIL_ACTOR = "send_report_email"
REPORT_ACTORS: frozenset[str] = frozenset({GENERATE_ACTOR, EMAIL_ACTOR})


class ExactRetries(Retries):
    """Retries with a fixed delay schedule instead of Dramatiq's jittered backoff.

    The n-th retry waits `schedule[n-1]` ms (the last entry repeats), so
    "2 s, 4 s, 8 s" is exactly that, which the timeline and tests rely on.
    """

    def __init__(self, *, schedule_ms: tuple[int, ...], max_retries: int) -> None:
        super().__init__(max_retries=max_retries)
        self.schedule_ms = schedule_ms or (1000,)

    @property
    def actor_options(self) -> set[str]:
        """Dramatiq's retry options plus `exact_retries` (use the fixed schedule)."""
        return super().actor_options | {"exact_retries"}

    def delay_for(self, retries_done: int) -> int:
        """Milliseconds to wait before the retry that follows `retries_done` retries."""
        return self.schedule_ms[min(retries_done, len(self.schedule_ms) - 1)]

    def after_process_message(self, broker, message, *, result=None, exception=None):  # type: ignore[no-untyped-def]
        """Turn a report failure into a Retry carrying the scheduled delay, then defer to Dramatiq.

        Only actors that opt in with the `exact_retries` option follow the schedule; the email actor keeps
        Dramatiq's exponential backoff, so an SMTP outage of many minutes still ends in a delivered email.
        """
        actor_options = broker.get_actor(message.actor_name).options
        if (exception is not None and not isinstance(exception, dramatiq.Retry)
                and actor_options.get("exact_retries")):
            retries_done = message.options.get("retries", 0)
            retry = dramatiq.Retry(str(exception), delay=self.delay_for(retries_done))
            retry.__cause__ = exception
            # Keep `throws` semantics: an exception the actor declares as final is not retried.
            actor = broker.get_actor(message.actor_name)
            throws = message.options.get("throws") or actor.options.get("throws")
            if not (throws and isinstance(exception, throws)):
                exception = retry
        return super().after_process_message(broker, message, result=result, exception=exception)


MESSAGE_INDEX_PREFIX = "reportsvc:msgindex:"
MESSAGE_INDEX_TTL_MS = 8 * 86_400_000  # outlives Dramatiq's 7-day dead-letter TTL


class MessageIndex(Middleware):
    """Remembers where each Dramatiq message id currently lives in Redis.

    Redis keys a message by `options.redis_message_id`, which Dramatiq renews
    on every enqueue (each retry, each delayed message coming due), while a
    report keeps its stable `message_id`. One SET per enqueue lets the queue
    module find a report's live message without scanning.
    """

    def after_enqueue(self, broker, message, delay):  # type: ignore[no-untyped-def]
        """Point the message id at its queue and current Redis id."""
        redis_id = message.options.get("redis_message_id")
        if redis_id is None or not isinstance(broker, RedisBroker):
            return
        broker.client.set(
            MESSAGE_INDEX_PREFIX + message.message_id, f"{message.queue_name}|{redis_id}", px=MESSAGE_INDEX_TTL_MS
        )


def _apply_policy(broker: RedisBroker, settings: Settings) -> None:
    """Retry schedule, time limit and liveness timeout from the settings (also on an existing broker)."""
    for middleware in broker.middleware:
        if isinstance(middleware, ExactRetries):
            middleware.schedule_ms = settings.retry_delays_ms or (1000,)
            middleware.max_retries = settings.report_max_retries
        elif isinstance(middleware, TimeLimit):
            middleware.time_limit = settings.report_time_limit_seconds * 1000
    # REPORT_LOCK_SECONDS is when Dramatiq, our queue views and the stall sweep all agree a silent worker is dead.
    broker.heartbeat_timeout = settings.report_lock_seconds * 1000


def build_broker(settings: Settings) -> RedisBroker:
    """A Redis broker with the middleware stack reportsvc relies on."""
    from .metrics_middleware import MetricsMiddleware

    middleware = [
        AgeLimit(),
        TimeLimit(interval=250),
        ShutdownNotifications(),
        Callbacks(),
        Pipelines(),
        ExactRetries(schedule_ms=settings.retry_delays_ms, max_retries=settings.report_max_retries),
        CurrentMessage(),
        MessageIndex(),
        MetricsMiddleware(),
    ]
    broker = RedisBroker(url=settings.redis_url, namespace=NAMESPACE, middleware=middleware)
    _apply_policy(broker, settings)
    return broker


def setup_broker(settings: Settings) -> RedisBroker:
    """Build the broker and make it Dramatiq's global broker (same Redis URL: update the existing one)."""
    current = _current_broker()
    if isinstance(current, RedisBroker) and getattr(current, "_reportsvc_url", None) == settings.redis_url:
        # Same Redis: keep the connection pool and declared actors, apply the new policy.
        _apply_policy(current, settings)
        return current
    broker = build_broker(settings)
    broker._reportsvc_url = settings.redis_url  # type: ignore[attr-defined]
    dramatiq.set_broker(broker)
    # Actors declared before this call keep a reference to the old broker; move them over.
    if current is not None and current is not broker:
        for actor_name in current.get_declared_actors():
            actor = current.get_actor(actor_name)
            actor.broker = broker
            broker.declare_actor(actor)
    return broker


def _current_broker() -> dramatiq.Broker | None:
    # get_broker() would build a default broker as a side effect; read the slot instead.
    return dramatiq.broker.global_broker
