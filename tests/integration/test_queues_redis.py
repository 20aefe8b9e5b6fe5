"""reportsvc.queues against a real Redis and real Dramatiq 2.2 brokers and workers."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from typing import Any

import dramatiq
import pytest
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.message import Message
from dramatiq.middleware import AgeLimit, Callbacks, Pipelines, Retries, TimeLimit

from reportsvc import queues as Q
from reportsvc.queues import WorkerAliveError, remove_pending, run_batches

URL = ""  # set by the client fixture; brokers in these tests connect to the same database
QUEUE = "qtest"
NS = "dramatiq"
# redis-py's reply types are unions of everything a command can return; tests read raw bytes.
Client = Any


@pytest.fixture
def client(engines: Any) -> Iterator[Client]:
    # The session's test Redis (embedded unless TEST_REDIS_URL), on a database of its own.
    global URL
    URL = os.environ.get("QUEUES_TEST_REDIS_URL") or engines.redis_url.rsplit("/", 1)[0] + "/7"
    c = redis.Redis.from_url(URL)
    if int(c.connection_pool.connection_kwargs.get("db", 0)) == 0:
        pytest.skip("refusing to FLUSHDB db 0; point QUEUES_TEST_REDIS_URL at a dedicated db")
    c.flushdb()
    yield c
    c.flushdb()


class Env:
    """A broker with two actors on QUEUE that record what ran."""

    def __init__(self) -> None:
        self.broker = make_broker()
        self.ran: list[Any] = []
        self.lock = threading.Lock()

        def generate_report(report_id: Any) -> None:
            with self.lock:
                self.ran.append(report_id)

        def boom(n: int) -> None:
            raise RuntimeError(f"boom {n}")

        self.ok = dramatiq.actor(broker=self.broker, queue_name=QUEUE, max_retries=0)(generate_report)
        self.fail = dramatiq.actor(broker=self.broker, queue_name=QUEUE, max_retries=0)(boom)

    def count(self, value: Any) -> int:
        with self.lock:
            return self.ran.count(value)

    def wait_ran(self, values: list[Any], timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if all(v in self.ran for v in values):
                    return
            time.sleep(0.05)
        raise AssertionError(f"not run in time: {[v for v in values if v not in self.ran]}")

    @contextlib.contextmanager
    def worker(self) -> Iterator[dramatiq.Worker]:
        w = dramatiq.Worker(self.broker, worker_timeout=100, worker_threads=2)
        w.start()
        try:
            yield w
        finally:
            w.stop()

    def dead_letters(self, n: int, *, actor: Any = None, start: int = 0) -> list[str]:
        """n real messages fetched and nacked through Dramatiq's own dispatch commands."""
        actor = actor or self.fail
        ids = [actor.send(start + i).options["redis_message_id"] for i in range(n)]
        fetched = 0
        while fetched < n:
            fetched += len(self.broker.do_fetch(QUEUE, min(500, n - fetched)))
        for rid in ids:
            self.broker.do_nack(QUEUE, rid)
        return ids


def make_broker() -> RedisBroker:
    middleware = [AgeLimit(), TimeLimit(), Callbacks(), Pipelines(), Retries(max_retries=0)]
    # maintenance_chance=0: only the code under test moves held messages.
    broker = RedisBroker(url=URL, namespace=NS, middleware=middleware, maintenance_chance=0)
    broker.declare_queue(QUEUE)
    return broker


@pytest.fixture
def env(client: Client) -> Iterator[Env]:
    e = Env()
    yield e
    e.broker.close()


def rid(message: Message) -> str:
    return message.options["redis_message_id"]


def keys() -> Q.QueueKeys:
    return Q.QueueKeys.of(QUEUE, NS)


def all_pages(client: Client, state: str, limit: int, newest_first: bool = True) -> list[str]:
    out: list[str] = []
    cursor = None
    seen_cursors = set()
    while True:
        page = Q.list_messages(client, QUEUE, state, limit=limit, cursor=cursor, newest_first=newest_first)
        out += [m.redis_id for m in page.items]
        if page.next_cursor is None:
            return out
        assert page.next_cursor not in seen_cursors
        seen_cursors.add(page.next_cursor)
        cursor = page.next_cursor


def fake_dead_worker(client: Client, worker: RedisBroker, age_ms: int = 120_000) -> None:
    """What a kill -9 leaves: the worker's ack sets stay, its heartbeat stops advancing."""
    client.zadd(f"{NS}:__heartbeats__", {worker.broker_id: int(time.time() * 1000) - age_ms})


# -- keys, decoding -------------------------------------------------------------------------


def test_key_names_match_dramatiq() -> None:
    k = keys()
    assert (k.waiting, k.msgs, k.delayed, k.delayed_msgs, k.dead, k.dead_msgs) == (
        "dramatiq:qtest",
        "dramatiq:qtest.msgs",
        "dramatiq:qtest.DQ",
        "dramatiq:qtest.DQ.msgs",
        "dramatiq:qtest.XQ",
        "dramatiq:qtest.XQ.msgs",
    )
    assert k.acks("w") == "dramatiq:__acks__.w.qtest"
    assert k.delayed_acks("w") == "dramatiq:__acks__.w.qtest.DQ"
    assert Q.QueueKeys.of("qtest.DQ") == k
    assert Q.DRAMATIQ_VERSION_OK


def test_decode_real_body(client: Client, env: Env) -> None:
    m = env.ok.send_with_options(args=("r-1",), delay=60_000)
    body = client.hget(keys().delayed_msgs, rid(m))
    view = Q.decode_message(body, state="delayed", report_actors={"generate_report"})
    assert view.redis_id == rid(m) and view.message_id == m.message_id
    assert view.actor == "generate_report" and view.report_id == "r-1"
    # queues/ knows messages, not reports: without being told which actors carry one, no report id.
    assert Q.decode_message(body, state="delayed").report_id is None
    assert view.queue == "qtest.DQ" and view.retries == 0 and view.eta is not None
    assert view.enqueued_at is not None and view.enqueued_at.tzinfo is not None


# -- counts ---------------------------------------------------------------------------------


def test_counts_match_raw_redis_in_every_state(client: Client, env: Env) -> None:
    for i in range(10):
        env.ok.send(f"r{i}")
    for i in range(3):
        env.ok.send_with_options(args=(f"d{i}",), delay=3_600_000)
    fetched = env.broker.do_fetch(QUEUE, 4)
    assert len(fetched) == 4
    held_ids = [Q.decode_message(b).redis_id for b in fetched]
    env.broker.do_nack(QUEUE, held_ids[0])
    env.broker.do_nack(QUEUE, held_ids[1])
    # A delay consumer's fetch: the id leaves the DQ list but the body stays in DQ.msgs.
    assert len(env.broker.do_fetch(f"{QUEUE}.DQ", 1)) == 1

    k = keys()
    s = Q.queue_stats(client, QUEUE)
    assert s.waiting == client.llen(k.waiting) == 6
    assert s.delayed == client.hlen(k.delayed_msgs) == 3
    assert client.llen(k.delayed) == 2  # why LLEN q.DQ is the wrong count
    assert s.held == client.scard(k.acks(env.broker.broker_id)) == 2
    assert s.dead == client.zcard(k.dead) == 2
    assert s.next_age_s is not None and s.next_age_s >= 0
    assert Q.all_queue_stats(client, [QUEUE, "empty"])[1] == Q.QueueStats("empty", 0, 0, 0, 0, None, None)
    assert Q.discover_queues(client) == [QUEUE]

    assert set(all_pages(client, "waiting", 4)) == {x.decode() for x in client.lrange(k.waiting, 0, -1)}
    assert set(all_pages(client, "delayed", 2)) == {x.decode() for x in client.hkeys(k.delayed_msgs)}
    assert set(all_pages(client, "held", 1)) == set(held_ids[2:])
    assert set(all_pages(client, "dead", 1)) == set(held_ids[:2])
    page = Q.list_messages(client, QUEUE, "held")
    assert {m.held_by for m in page.items} == {env.broker.broker_id} and page.total == 2

    workers = Q.list_workers(client, NS, [QUEUE])
    assert [w.worker_id for w in workers] == [env.broker.broker_id]
    assert workers[0].alive and workers[0].held == {QUEUE: 2, f"{QUEUE}.DQ": 1}


# -- pagination -----------------------------------------------------------------------------


def test_waiting_pagination_is_complete_and_ordered(client: Client, env: Env) -> None:
    ids = [rid(env.ok.send(i)) for i in range(1234)]
    assert all_pages(client, "waiting", 100, newest_first=False) == ids
    assert all_pages(client, "waiting", 100, newest_first=True) == ids[::-1]
    first = Q.list_messages(client, QUEUE, "waiting", limit=5, newest_first=False)
    assert [m.redis_id for m in first.items] == ids[:5] and first.total == 1234


def test_waiting_pagination_skips_nothing_while_workers_pop(client: Client, env: Env) -> None:
    ids = [rid(env.ok.send(i)) for i in range(1234)]
    for newest_first in (False, True):
        client.delete(keys().waiting)
        client.rpush(keys().waiting, *ids)
        seen: list[str] = []
        popped: list[str] = []
        cursor = None
        while True:
            page = Q.list_messages(client, QUEUE, "waiting", limit=100, cursor=cursor, newest_first=newest_first)
            seen += [m.redis_id for m in page.items]
            # Workers take 37 from the head between two operator clicks.
            popped += [x.decode() for x in client.lpop(keys().waiting, 37) or []]
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert set(seen) | set(popped) == set(ids)
        assert len(seen) == len(set(seen))


def test_delayed_and_held_pages(client: Client, env: Env) -> None:
    delayed = {rid(env.ok.send_with_options(args=(i,), delay=60_000 + i)) for i in range(300)}
    got = all_pages(client, "delayed", 40)
    assert set(got) == delayed
    page = Q.list_messages(client, QUEUE, "delayed", limit=40, newest_first=False)
    etas = [m.eta for m in page.items]
    assert etas == sorted(etas)  # type: ignore[type-var]

    for i in range(120):
        env.ok.send(i)
    other = make_broker()
    held = {Q.decode_message(b).redis_id for b in env.broker.do_fetch(QUEUE, 70)}
    held |= {Q.decode_message(b).redis_id for b in other.do_fetch(QUEUE, 30)}
    got = all_pages(client, "held", 25)
    assert sorted(got) == sorted(held)
    other.close()


def test_dead_keyset_pages(client: Client, env: Env) -> None:
    env.dead_letters(1234)
    k = keys()
    desc = [x.decode() for x in client.zrevrange(k.dead, 0, -1)]
    asc = [x.decode() for x in client.zrange(k.dead, 0, -1)]
    assert all_pages(client, "dead", 100) == desc
    assert all_pages(client, "dead", 100, newest_first=False) == asc
    # The letter a cursor names is requeued between two clicks: the next page still follows it.
    page = Q.list_messages(client, QUEUE, "dead", limit=100)
    assert page.next_cursor is not None
    assert len(Q.requeue_dead_ids(client, QUEUE, [page.items[-1].redis_id])) == 1
    nxt = Q.list_messages(client, QUEUE, "dead", limit=100, cursor=page.next_cursor)
    assert [m.redis_id for m in nxt.items] == desc[100:200]
    assert all(m.dead_at is not None for m in nxt.items)


# -- actions --------------------------------------------------------------------------------


def test_requeue_dead_moves_once_and_a_worker_runs_it(client: Client, env: Env) -> None:
    ids = env.dead_letters(5, actor=env.ok)
    k = keys()
    assert len(Q.requeue_dead_ids(client, QUEUE, ids[:2])) == 2
    assert len(Q.requeue_dead_ids(client, QUEUE, ids[:2])) == 0
    assert client.zcard(k.dead) == 3 and client.llen(k.waiting) == 2
    assert [x.decode() for x in client.lrange(k.waiting, 0, -1)] == ids[:2]
    view = Q.get_message(client, QUEUE, ids[0])
    assert view is not None and view.state == "waiting" and view.retries == 0
    assert "eta" not in view.options and "traceback" not in view.options
    assert view.options["redis_message_id"] == ids[0]
    with env.worker() as w:
        env.wait_ran([0, 1])
        w.join()
    assert env.count(0) == 1 and env.count(1) == 1 and env.count(2) == 0
    assert client.hlen(k.msgs) == 0 and client.zcard(k.dead) == 3


def test_delete_dead(client: Client, env: Env) -> None:
    ids = env.dead_letters(4)
    assert len(Q.delete_dead_ids(client, QUEUE, ids[:2] + ["nope"])) == 2
    assert len(Q.delete_dead_ids(client, QUEUE, ids[:2])) == 0
    assert client.zcard(keys().dead) == 2 and client.hlen(keys().dead_msgs) == 2


def test_promote_unfetched_delayed_runs_once(client: Client, env: Env) -> None:
    m = env.ok.send_with_options(args=("soon",), delay=3_600_000)
    assert Q.promote_delayed(client, QUEUE, rid(m))
    assert not Q.promote_delayed(client, QUEUE, rid(m))
    assert Q.locate_message(client, QUEUE, rid(m)).state == "waiting"
    with env.worker() as w:
        env.wait_ran(["soon"])
        w.join()
        time.sleep(0.3)
    assert env.count("soon") == 1
    assert client.hlen(keys().delayed_msgs) == 0


def test_promote_refuses_live_holder_and_takes_from_dead_one(client: Client, env: Env) -> None:
    m = env.ok.send_with_options(args=("later",), delay=3_600_000)
    with env.worker():
        deadline = time.monotonic() + 5
        while client.scard(keys().delayed_acks(env.broker.broker_id)) == 0:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        loc = Q.locate_message(client, QUEUE, rid(m))
        assert loc.state == "delayed" and loc.worker_id == env.broker.broker_id and loc.worker_alive
        assert not Q.promote_delayed(client, QUEUE, rid(m))
        assert Q.locate_message(client, QUEUE, rid(m)).state == "delayed"

    other = make_broker()
    m2 = env.ok.send_with_options(args=("stuck",), delay=3_600_000)
    assert len(other.do_fetch(f"{QUEUE}.DQ", 10)) >= 1
    fake_dead_worker(client, other)
    assert Q.promote_delayed(client, QUEUE, rid(m2))
    assert client.sismember(keys().delayed_acks(other.broker_id), rid(m2)) == 0
    with env.worker() as w:
        env.wait_ran(["stuck"])
        w.join()
    assert env.count("stuck") == 1
    other.close()


def test_release_from_dead_worker(client: Client, env: Env) -> None:
    ids = [rid(env.ok.send(f"h{i}")) for i in range(3)]
    other = make_broker()
    assert len(other.do_fetch(QUEUE, 3)) == 3
    assert not Q.release_held(client, QUEUE, ids[0], other.broker_id)  # alive: refused
    with pytest.raises(WorkerAliveError):
        Q.release_dead_worker(client, other.broker_id, [QUEUE])
    fake_dead_worker(client, other)
    assert Q.locate_message(client, QUEUE, ids[0]).worker_alive is False
    assert Q.release_held(client, QUEUE, ids[0], other.broker_id)
    assert not Q.release_held(client, QUEUE, ids[0], other.broker_id)
    assert Q.locate_message(client, QUEUE, ids[0]).state == "waiting"
    assert Q.release_dead_worker(client, other.broker_id, [QUEUE]) == 2
    assert Q.release_dead_worker(client, other.broker_id, [QUEUE]) == 0
    assert client.zscore(f"{NS}:__heartbeats__", other.broker_id) is None
    assert client.llen(keys().waiting) == 3
    with env.worker() as w:
        env.wait_ran(["h0", "h1", "h2"])
        w.join()
    assert sorted(env.ran) == ["h0", "h1", "h2"]
    other.close()


def test_bulk_requeue_with_filter(client: Client, env: Env) -> None:
    env.dead_letters(2500, actor=env.ok)
    env.dead_letters(2500, actor=env.fail, start=2500)
    flt = Q.DeadFilter(actor="generate_report", predicate=lambda v: v.args[0] % 3 == 0)
    expected = sum(1 for i in range(2500) if i % 3 == 0)
    assert Q.count_dead_matching(client, QUEUE, flt) == expected
    result = run_batches(Q.requeue_dead_batch, client, QUEUE, filter=flt, batch_size=500)
    assert result.moved == expected and result.scanned == 5000 and result.done
    assert client.zcard(keys().dead) == 5000 - expected
    moved_args = sorted(Q.decode_message(b).args[0] for b in client.hvals(keys().msgs))
    assert moved_args == [i for i in range(2500) if i % 3 == 0]
    assert run_batches(Q.requeue_dead_batch, client, QUEUE, filter=flt).moved == 0
    assert Q.count_dead_matching(client, QUEUE, flt) == 0

    # allow-callback (one call per batch) + delete, time bounds via ZCOUNT
    calls = []

    def allow(views: list[Q.MessageView]) -> set[str]:
        calls.append(len(views))
        return {v.redis_id for v in views if v.args[0] < 2600}

    flt2 = Q.DeadFilter(actor="boom", allow=allow)
    assert run_batches(Q.delete_dead_batch, client, QUEUE, filter=flt2, batch_size=1000).moved == 100
    assert sum(calls) == 2500  # the callback sees only actor-matching candidates, once each
    assert Q.count_dead_matching(client, QUEUE, Q.DeadFilter(dead_before=0)) == 0
    assert Q.count_dead_matching(client, QUEUE) == client.zcard(keys().dead)


def test_locate_message_in_each_state(client: Client, env: Env) -> None:
    dead = env.dead_letters(1)[0]
    ids = [rid(env.ok.send(i)) for i in range(4)]
    d = rid(env.ok.send_with_options(args=("d",), delay=60_000))
    loc = Q.locate_message(client, QUEUE, dead)
    assert loc.state == "dead" and loc.dead_at is not None and loc.message is not None
    held = Q.decode_message(env.broker.do_fetch(QUEUE, 1)[0]).redis_id
    assert held == ids[0]
    loc = Q.locate_message(client, QUEUE, held)
    assert loc.state == "held" and loc.worker_id == env.broker.broker_id and loc.worker_alive
    for pos, w in enumerate(ids[1:]):
        loc = Q.locate_message(client, QUEUE, w)
        assert loc.state == "waiting" and loc.position == pos  # 0 = runs next
    loc = Q.locate_message(client, QUEUE, d)
    assert loc.state == "delayed" and loc.eta is not None and loc.worker_id is None
    assert Q.locate_message(client, QUEUE, "missing").state == "nowhere"
    assert Q.get_message(client, QUEUE, "missing") is None
    view = Q.get_message(client, QUEUE, held)
    assert view is not None and view.state == "held" and view.held_by == env.broker.broker_id


def test_remove_pending_by_dramatiq_message_id(client: Client, env: Env) -> None:
    m = env.ok.send("x")
    d = env.ok.send_with_options(args=("y",), delay=60_000)
    assert remove_pending(client, QUEUE, m.message_id)
    assert not remove_pending(client, QUEUE, m.message_id)
    assert remove_pending(client, QUEUE, rid(d))
    assert Q.queue_stats(client, QUEUE).total == 0


@pytest.mark.slow
def test_bulk_requeue_in_bounded_batches_moves_everything(client: Client, env: Env) -> None:
    # Speed is bench/queues.py's job (100k, SLOWLOG); here: exact results, every call bounded by its batch.
    k = keys()
    now = int(time.time() * 1000)
    total = 20_000
    pipe = client.pipeline(transaction=False)
    for i in range(total):
        # What a nack leaves: the last enqueued body under its redis id, scored by dead-letter time.
        msg = env.ok.message(i).copy(options={"redis_message_id": f"id-{i:06d}", "retries": 3})
        pipe.hset(k.dead_msgs, f"id-{i:06d}", msg.encode())
        pipe.zadd(k.dead, {f"id-{i:06d}": now - (i // 1000)})
        if i % 5000 == 4999:
            pipe.execute()
    pipe.execute()
    cursor = None
    moved = 0
    calls = 0
    while True:
        r = Q.requeue_dead_batch(client, QUEUE, cursor=cursor, batch_size=500)
        assert r.moved <= 500
        calls += 1
        moved += r.moved
        cursor = r.next_cursor
        if r.done:
            break
    assert moved == total and client.llen(k.waiting) == total and client.zcard(k.dead) == 0
    assert calls >= total // 500
