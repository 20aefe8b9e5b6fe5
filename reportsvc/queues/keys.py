"""Key names of Dramatiq 2.2's Redis broker (see dramatiq/brokers/redis/dispatch.lua)."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_NAMESPACE = "dramatiq"
DQ_SUFFIX = ".DQ"
XQ_SUFFIX = ".XQ"


def canonical_queue(queue: str) -> str:
    """The queue name without a ``.DQ``/``.XQ`` suffix (Dramatiq's ``q_name``)."""
    if queue.endswith(DQ_SUFFIX) or queue.endswith(XQ_SUFFIX):
        return queue[:-3]
    return queue


def delay_queue_name(queue: str) -> str:
    """The delay queue of ``queue`` (Dramatiq's ``dq_name``)."""
    return canonical_queue(queue) + DQ_SUFFIX


def dead_queue_name(queue: str) -> str:
    """The dead-letter queue of ``queue`` (Dramatiq's ``xq_name``); a delay queue shares its parent's."""
    return canonical_queue(queue) + XQ_SUFFIX


def heartbeats_key(namespace: str = DEFAULT_NAMESPACE) -> str:
    """ZSET worker id -> ms of its last broker call (every dispatch call, enqueue included, beats)."""
    return f"{namespace}:__heartbeats__"


def worker_acks_prefix(worker_id: str, namespace: str = DEFAULT_NAMESPACE) -> str:
    """Prefix of every ack set of one worker (Dramatiq's maintenance matches ``prefix*``)."""
    return f"{namespace}:__acks__.{worker_id}"


def ack_key(worker_id: str, queue: str, namespace: str = DEFAULT_NAMESPACE) -> str:
    """SET of ids fetched but not yet acked by ``worker_id`` from ``queue`` (``queue`` may end in .DQ)."""
    return f"{worker_acks_prefix(worker_id, namespace)}.{queue}"


@dataclass(frozen=True)
class QueueKeys:
    """Every key Dramatiq 2.2 uses for one canonical queue and its delay/dead-letter queues."""

    namespace: str
    queue: str

    @classmethod
    def of(cls, queue: str, namespace: str = DEFAULT_NAMESPACE) -> QueueKeys:
        """Keys for ``queue`` (given with or without a .DQ/.XQ suffix)."""
        return cls(namespace=namespace, queue=canonical_queue(queue))

    @property
    def delay_queue(self) -> str:
        """Name of the delay queue (``q.DQ``), as used in ack set names."""
        return self.queue + DQ_SUFFIX

    @property
    def waiting(self) -> str:
        """LIST of waiting ids; ``RPUSH`` on enqueue/requeue, ``LPOP`` on fetch: index 0 runs next."""
        return f"{self.namespace}:{self.queue}"

    @property
    def msgs(self) -> str:
        """HASH id -> body of every message of the queue not yet acked (waiting + held)."""
        return f"{self.waiting}.msgs"

    @property
    def delayed(self) -> str:
        """LIST of delayed ids not yet fetched by any worker's delay consumer (usually near empty)."""
        return f"{self.waiting}{DQ_SUFFIX}"

    @property
    def delayed_msgs(self) -> str:
        """HASH id -> body of every delayed message, whether in the DQ list or in a worker's memory."""
        return f"{self.delayed}.msgs"

    @property
    def dead(self) -> str:
        """ZSET dead-lettered id -> ms when nacked."""
        return f"{self.waiting}{XQ_SUFFIX}"

    @property
    def dead_msgs(self) -> str:
        """HASH dead-lettered id -> body (the body as last enqueued, not the final failure)."""
        return f"{self.dead}.msgs"

    @property
    def heartbeats(self) -> str:
        """The namespace's heartbeat ZSET."""
        return heartbeats_key(self.namespace)

    def acks(self, worker_id: str) -> str:
        """Ack set of ``worker_id`` for this queue."""
        return ack_key(worker_id, self.queue, self.namespace)

    def delayed_acks(self, worker_id: str) -> str:
        """Ack set of ``worker_id`` for this queue's delay queue (messages held in its memory until eta)."""
        return ack_key(worker_id, self.delay_queue, self.namespace)
