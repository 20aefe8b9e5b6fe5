"""The Dramatiq broker: Redis, namespace "dramatiq", exact retry delays.

`setup_broker()` must run before any actor module is imported, because
actors bind to the global broker at declaration time.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker, _RedisConsumer
from dramatiq.common import current_millis
from dramatiq.errors import ConnectionClosed
from dramatiq.middleware import (
    AgeLimit,
    Callbacks,
    CurrentMessage,
    Pipelines,
    Retries,
    ShutdownNotifications,
    TimeLimit,
)
from redis.exceptions import NoScriptError

from reportsvc.names import BATCH_QUEUE, NAMESPACE
from reportsvc.queues.index import MESSAGE_INDEX_PREFIX
from reportsvc.queues.riders import board
from reportsvc.redis_client import RedisTarget, new_pool

if TYPE_CHECKING:
    from reportsvc.config import Settings

log = logging.getLogger("reportsvc.worker.broker")
#: The longest an idle consumer sleeps between fetches (ms) unless WORKER_IDLE_POLL_MS says otherwise: a retry
#: runs at most about twice this late.
IDLE_POLL_MAX_MS = 100



#: The failure moment (message id, epoch ms) of the message this worker thread is processing, noted by the
#: actor when the attempt failed (see note_failure).
_failed = threading.local()


def note_failure(message_id: str, failed_at_ms: int) -> None:
    """Say when this thread's current message failed, so its retry is due `delay` after that moment."""
    _failed.noted = (message_id, failed_at_ms)


class ExactRetries(Retries):
    """Retries with a fixed delay schedule instead of Dramatiq's jittered backoff.

    The n-th retry waits `schedule[n-1]` ms (the last entry repeats), so
    "2 s, 4 s, 8 s" is exactly that, which the timeline and tests rely on. The wait counts from the
    moment the attempt failed (note_failure) when the actor noted it, not from the end of the bookkeeping
    that follows a failure (timeline, log capture, heartbeat stop: round trips that grow under load).
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
        noted, _failed.noted = getattr(_failed, "noted", None), None
        actor_options = broker.get_actor(message.actor_name).options
        if (exception is not None and not isinstance(exception, dramatiq.Retry)
                and actor_options.get("exact_retries")):
            retries_done = message.options.get("retries", 0)
            delay = self.delay_for(retries_done)
            if noted is not None and noted[0] == message.message_id:
                delay = max(0, delay - (current_millis() - noted[1]))
            retry = dramatiq.Retry(str(exception), delay=delay)
            retry.__cause__ = exception
            # Keep `throws` semantics: an exception the actor declares as final is not retried.
            actor = broker.get_actor(message.actor_name)
            throws = message.options.get("throws") or actor.options.get("throws")
            if not (throws and isinstance(exception, throws)):
                exception = retry
        return super().after_process_message(broker, message, result=result, exception=exception)


MESSAGE_INDEX_TTL_MS = 8 * 86_400_000  # outlives Dramatiq's 7-day dead-letter TTL


_enqueuing: ContextVar[str] = ContextVar("reportsvc_enqueuing_message_id")


@contextmanager
def _timeouts_as_connection_closed() -> Iterator[None]:
    """Turn a Redis socket timeout into Dramatiq's ConnectionClosed."""
    try:
        yield
    except redis.TimeoutError as exc:
        raise ConnectionClosed(exc) from None


class TimeoutAwareConsumer(_RedisConsumer):
    """Dramatiq's Redis consumer, reporting a socket timeout as the lost connection it is.

    Dramatiq 2.2 maps only redis.ConnectionError to ConnectionClosed, and redis.TimeoutError is not one.
    Unmapped, a timed-out ack is logged as "a bug in Dramatiq" and never retried (the message stays held
    until the worker restarts), and a timed-out requeue while the consumer closes kills the consumer thread
    for good. Mapped, the worker retries the ack, and a close swallows the failed requeue.

    A timed-out *fetch* stays unmapped on purpose: on ConnectionClosed Dramatiq's consumer thread drops its
    in-memory delay queue (retries waiting out their delay stay in this live worker's ack set, where no
    sweep releases them), while on any other error it closes the consumer, which first puts those
    messages back, and then restarts it.
    """

    def __init__(self, broker: RedisBroker, queue_name: str, prefetch: int, timeout: int, fetch_batch: int = 1) -> None:
        super().__init__(broker, queue_name, prefetch, timeout)
        # A delay queue's consumer holds its messages until they come due (its prefetch is the worker's
        # threads x 1000): it keeps fetching whenever it has room, as Dramatiq does.
        self.fetch_batch = 1 if queue_name.endswith(".DQ") else max(1, min(fetch_batch, prefetch // 2))
        self.room = threading.Event()

    def __next__(self) -> dramatiq.MessageProxy | None:
        """Dramatiq's next message, fetching only once `fetch_batch` messages fit under the prefetch (see
        WORKER_FETCH_BATCH): with room for one, Dramatiq would run its fetch script for about every message."""
        if self.fetch_batch > 1 and not self.message_cache \
                and self.prefetch - self.outstanding_message_count < self.fetch_batch:
            # Every message held is queued for or running on a worker thread, and no thread is idle while
            # fewer than prefetch - fetch_batch (>= the threads) are held: wait for an ack to make room.
            self.room.wait(self.timeout / 1000)
            self.room.clear()
            return None
        return super().__next__()  # type: ignore[no-any-return]

    def _made_room(self) -> None:
        if self.fetch_batch > 1 and self.prefetch - self.outstanding_message_count >= self.fetch_batch:
            self.room.set()

    def ack(self, message: dramatiq.MessageProxy) -> None:
        """Acknowledge; ConnectionClosed on a timeout (the worker retries until Redis answers)."""
        try:
            with _timeouts_as_connection_closed():
                super().ack(message)
        finally:
            self._made_room()

    def nack(self, message: dramatiq.MessageProxy) -> None:
        """Dead-letter; ConnectionClosed on a timeout (the worker retries until Redis answers)."""
        try:
            with _timeouts_as_connection_closed():
                super().nack(message)
        finally:
            self._made_room()

    def requeue(self, messages: Iterable[dramatiq.MessageProxy]) -> None:
        """Put prefetched messages back; ConnectionClosed on a timeout."""
        with _timeouts_as_connection_closed():
            super().requeue(messages)


class IndexingRedisBroker(RedisBroker):
    """Dramatiq's Redis broker that also keeps the message index, in the enqueue's own round trip.

    Redis keys a message by `options.redis_message_id`, which Dramatiq renews on every enqueue (each
    retry, each delayed message coming due), while a report keeps its stable `message_id`. Each enqueue
    also SETs `reportsvc:msgindex:<message_id>` to `<queue>|<redis id>`, so the queue module finds a
    report's live message without scanning. The SET rides in one pipeline with Dramatiq's own enqueue
    script (a middleware's after_enqueue would cost the API a second round trip per POST /reports).
    """

    @property
    def consumer_class(self) -> type[TimeoutAwareConsumer]:
        """Consumers that report socket timeouts as connection losses (see TimeoutAwareConsumer)."""
        return TimeoutAwareConsumer

    def consume(self, queue_name: str, prefetch: int = 1, timeout: int = 5000) -> TimeoutAwareConsumer:
        """A consumer whose idle polling backs off to at most IDLE_POLL_MAX_MS, whatever the worker asks."""
        # An idle consumer sleeps up to `timeout` between fetches (Dramatiq's Worker passes its worker_timeout,
        # 1 s unless the dramatiq_worker_timeout variable says otherwise, and the CLI has no flag for it). A
        # retry coming due waits for the delay-queue consumer's next wake-up and then for the main queue's:
        # up to 2 s late on a 2 s delay. Capped here, `dramatiq reportsvc.tasks` keeps the schedule as shipped.
        idle_ms = getattr(self, "idle_poll_ms", IDLE_POLL_MAX_MS)  # WORKER_IDLE_POLL_MS
        return self.consumer_class(self, queue_name, prefetch, min(timeout, idle_ms),
                                   getattr(self, "fetch_batch", 1))

    def enqueue(self, message: dramatiq.Message, *, delay: int | None = None) -> dramatiq.Message:
        """Dramatiq's enqueue, remembering which message id the Redis entry about to be written carries."""
        token = _enqueuing.set(message.message_id)
        try:
            return super().enqueue(message, delay=delay)
        finally:
            _enqueuing.reset(token)

    def do_enqueue(self, queue_name: str, redis_id: str, payload: bytes) -> None:
        """Run Dramatiq's `enqueue` dispatch command and the index SET in one pipelined round trip."""
        dispatch = self.scripts["dispatch"]
        # The argument list of RedisBroker._dispatch in Dramatiq 2.2 (pinned in pyproject.toml).
        args = ["enqueue", current_millis(), queue_name, self.broker_id, self.heartbeat_timeout,
                self.dead_message_ttl, self._should_do_maintenance("enqueue"), self._max_unpack_size(),
                redis_id, payload]
        pipe = self.client.pipeline(transaction=False)
        board(pipe)  # commands riding along, e.g. the 'created' console event (before: it must not trail a claim)
        pipe.evalsha(dispatch.sha, 1, self.namespace, *args)
        pipe.set(MESSAGE_INDEX_PREFIX + _enqueuing.get(), f"{queue_name}|{redis_id}", px=MESSAGE_INDEX_TTL_MS)
        *_, sent, indexed = pipe.execute(raise_on_error=False)
        if isinstance(sent, NoScriptError):  # a restarted or flushed Redis: let redis-py load the script
            dispatch(keys=[self.namespace], args=args)
        elif isinstance(sent, Exception):
            raise sent
        if isinstance(indexed, Exception):  # the message is queued; only the O(1) lookup misses it
            log.warning("message %s queued but not indexed: %s", _enqueuing.get(), indexed)


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
    broker.fetch_batch = settings.hotpath.worker_fetch_batch  # type: ignore[attr-defined]
    broker.idle_poll_ms = settings.hotpath.worker_idle_poll_ms  # type: ignore[attr-defined]


def build_broker(settings: Settings) -> RedisBroker:
    """A Redis broker with the middleware stack reportsvc relies on."""
    from reportsvc.worker.batches_middleware import ProcessBatches
    from reportsvc.worker.context import AppWarmUp
    from reportsvc.worker.metrics_middleware import MetricsMiddleware
    from reportsvc.worker.pause_middleware import PauseMiddleware

    middleware = [
        PauseMiddleware(),  # first: a paused queue's message is put back before anything else sees it
        AgeLimit(),
        TimeLimit(interval=250),
        ShutdownNotifications(),
        Callbacks(),
        Pipelines(),
        ExactRetries(schedule_ms=settings.retry_delays_ms, max_retries=settings.report_max_retries),
        CurrentMessage(),
        MetricsMiddleware(),
        AppWarmUp(),
        ProcessBatches(),
    ]
    # Timeouts on every connection: without them a Redis that stops answering (dropped packets, a host
    # gone without a reset) blocks POST /reports, and a worker's fetch or ack, for as long as TCP retries.
    # Dramatiq 2.2 never blocks server-side (fetch is a Lua script, the worker sleeps between polls
    # client-side, the heartbeat is a ZADD inside each script), so replies take milliseconds.
    # With REDIS_SENTINELS the pool asks Sentinel for the master on each new connection: a failover costs the
    # consumers one ConnectionClosed each (Dramatiq restarts them) and an enqueue one error (the caller's outbox).
    broker = IndexingRedisBroker(connection_pool=new_pool(RedisTarget.of(settings)), namespace=NAMESPACE,
                                 middleware=middleware)
    # The batch lane carries generate_report messages too (sent by name with their queue): declaring it here
    # is what lets a worker consume it (`dramatiq reportsvc.tasks --queues reports-batch`, or all queues).
    broker.declare_queue(BATCH_QUEUE)
    _apply_policy(broker, settings)
    return broker


def _connection_key(settings: Settings) -> RedisTarget:
    """What the broker's connection pool is built from: a change means a new pool."""
    return RedisTarget.of(settings)


def setup_broker(settings: Settings) -> RedisBroker:
    """Build the broker and make it Dramatiq's global broker (same Redis and timeout: update the existing one)."""
    current = _current_broker()
    if isinstance(current, RedisBroker) and getattr(current, "_reportsvc_redis", None) == _connection_key(settings):
        # Same Redis: keep the connection pool and declared actors, apply the new policy.
        _apply_policy(current, settings)
        return current
    broker = build_broker(settings)
    broker._reportsvc_redis = _connection_key(settings)  # type: ignore[attr-defined]
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
