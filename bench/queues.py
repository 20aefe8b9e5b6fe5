"""Queue introspection at scale: page latency must not grow with the queue, bulk requeue must be quick.

Runs on its own embedded Valkey (reportsvc.dev.valkey.EmbeddedValkey, free port, temp dir), so it
never touches shared data. Two queues coexist: a small one (1,000 waiting, 1,000 dead, 1,000
delayed, 100 held) and a large one (1,000,000 waiting, 100,000 dead, 100,000 delayed, 10,000
held), filled pipelined with bodies in Dramatiq 2.2's exact format. For the overview and the first
and a deep (middle) page of each list it prints the median latency on both, measured interleaved,
and the ratio large/small (target <= 1.5). Then it requeues the large queue's 100,000 dead letters
the way the bulk job does (500 per Lua script call) and prints the wall time and the longest single
Redis call during it, from SLOWLOG with slowlog-log-slower-than 0. Batch by batch in turn with it (so a
busy machine slows both alike), as many dead letters of a third queue move to another queue's waiting list
(the bulk requeue's default: to the batch lane, with the message index repointed), with the same two
figures and their ratio to the same-queue requeue.

The requeue figure is the Redis side of a bulk job. The bulk job also does one SQL UPDATE and one
INSERT per 500-letter batch for the reports those letters carry (not measured here).

    python bench/queues.py            # full run (~1-2 minutes, ~1 GB RAM in Valkey)
    python bench/queues.py --small    # smoke run (seconds)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import redis  # noqa: E402
from dramatiq.message import Message  # noqa: E402

from reportsvc import queues as Q  # noqa: E402
from reportsvc.dev.engine_base import free_port  # noqa: E402
from reportsvc.dev.valkey import EmbeddedValkey  # noqa: E402
from reportsvc.queues._dead import encode_dead_cursor  # noqa: E402
from reportsvc.queues.bulk import requeue_dead_batch  # noqa: E402
from reportsvc.queues.paging import encode_waiting_cursor  # noqa: E402

NS = "dramatiq"
PAGE = 50


def body(queue: str, rid: str, **options: Any) -> bytes:
    """A message body exactly as Dramatiq 2.2's RedisBroker stores it."""
    msg = Message(queue_name=queue, actor_name="generate_report", args=(str(uuid.uuid4()),), kwargs={},
                  options={"redis_message_id": rid, **options})
    return msg.encode()


def fill(client: redis.Redis, queue: str, *, waiting: int, dead: int, delayed: int, held: int, workers: int) -> None:
    """Pipelined fill of every state of one queue."""
    k = Q.QueueKeys.of(queue, NS)
    now = int(time.time() * 1000)
    chunk = 10_000
    for start in range(0, waiting, chunk):
        pipe = client.pipeline(transaction=False)
        ids = [f"w{start + i:08d}-{uuid.uuid4().hex[:12]}" for i in range(min(chunk, waiting - start))]
        pipe.hset(k.msgs, mapping={i: body(queue, i) for i in ids})
        pipe.rpush(k.waiting, *ids)
        pipe.execute()
    for start in range(0, dead, chunk):
        pipe = client.pipeline(transaction=False)
        ids = [f"x{start + i:08d}-{uuid.uuid4().hex[:12]}" for i in range(min(chunk, dead - start))]
        pipe.hset(k.dead_msgs, mapping={i: body(queue, i, retries=3, eta=now - 9000) for i in ids})
        # A few hundred letters per millisecond, as a burst of failures leaves them.
        pipe.zadd(k.dead, {i: now - dead + (start + n) // 3 for n, i in enumerate(ids)})
        pipe.execute()
    for start in range(0, delayed, chunk):
        pipe = client.pipeline(transaction=False)
        ids = [f"d{start + i:08d}-{uuid.uuid4().hex[:12]}" for i in range(min(chunk, delayed - start))]
        pipe.hset(k.delayed_msgs, mapping={i: body(queue + ".DQ", i, eta=now + 3_600_000 + n)
                                           for n, i in enumerate(ids)})
        pipe.execute()
    # Held: ids fetched by live workers (each worker's ack set), bodies still in q.msgs.
    per = max(1, held // workers)
    for w in range(workers):
        wid = f"bench-worker-{queue}-{w:03d}"
        ids = [f"h{w:03d}{i:06d}-{uuid.uuid4().hex[:12]}" for i in range(per)]
        pipe = client.pipeline(transaction=False)
        pipe.hset(k.msgs, mapping={i: body(queue, i) for i in ids})
        pipe.sadd(k.acks(wid), *ids)
        pipe.zadd(k.heartbeats, {wid: now + 86_400_000})  # "alive" for the whole run
        pipe.execute()


def deep_cursors(client: redis.Redis, queue: str) -> dict[str, str | None]:
    """A cursor into the middle of each list, as an operator would reach by paging."""
    k = Q.QueueKeys.of(queue, NS)
    n = int(client.llen(k.waiting))
    mid = n // 2
    anchor = client.lindex(k.waiting, mid)
    waiting = encode_waiting_cursor(mid, Q.messages.to_str(anchor)) if anchor is not None else None
    d = int(client.zcard(k.dead))
    row = client.zrevrange(k.dead, d // 2, d // 2, withscores=True)
    dead = encode_dead_cursor(float(row[0][1]), Q.messages.to_str(row[0][0])) if row else None
    # Delayed pages follow HSCAN; walk half of it once to get a mid cursor.
    delayed: str | None = None
    page = Q.list_messages(client, queue, "delayed", limit=PAGE)
    seen = len(page.items)
    target = int(client.hlen(k.delayed_msgs)) // 2
    cursor = page.next_cursor
    while cursor and seen < target:
        page = Q.list_messages(client, queue, "delayed", limit=PAGE * 20, cursor=cursor)
        seen += len(page.items)
        cursor = page.next_cursor
    delayed = cursor
    # Held pages walk workers in id order: start at the middle worker.
    workers = sorted(Q.messages.to_str(w) for w in client.zrange(k.heartbeats, 0, -1)
                     if Q.messages.to_str(w).startswith(f"bench-worker-{queue}-"))
    held = f"k:{workers[len(workers) // 2]}|0" if workers else None
    return {"waiting": waiting, "dead": dead, "delayed": delayed, "held": held}


def median_ms(fn: Callable[[], Any], reps: int) -> float:
    samples = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    return statistics.median(samples)


def measure(client: redis.Redis, small: str, large: str, reps: int) -> list[tuple[str, float, float]]:
    cursors = {small: deep_cursors(client, small), large: deep_cursors(client, large)}
    others = ["reports", "notifications", "maintenance"]

    def cases(q: str) -> dict[str, Callable[[], Any]]:
        c = cursors[q]
        out: dict[str, Callable[[], Any]] = {
            "overview": lambda: Q.all_queue_stats(client, [q, *others]),
        }
        for state in ("waiting", "delayed", "held", "dead"):
            out[f"{state}_first"] = lambda s=state: Q.list_messages(client, q, s, limit=PAGE)
            out[f"{state}_deep"] = lambda s=state: Q.list_messages(client, q, s, limit=PAGE, cursor=c[s])
        return out

    small_cases, large_cases = cases(small), cases(large)
    rows = []
    for name in small_cases:
        for fn in (small_cases[name], large_cases[name]):  # warm up (script load, connection)
            fn()
        # Interleave short rounds so drift on the machine hits both sizes alike.
        s_samples, l_samples = [], []
        for _ in range(5):
            s_samples.append(median_ms(small_cases[name], reps // 5))
            l_samples.append(median_ms(large_cases[name], reps // 5))
        rows.append((name, statistics.median(s_samples), statistics.median(l_samples)))
    return rows


class Requeue:
    """Requeue every dead letter of a queue as the bulk job does, one 500-letter batch per :meth:`step`.

    With ``to``, each batch moves its letters to that queue instead (a lane move). Valkey's SLOWLOG also
    records each command a script runs, so one batch leaves ~3,000 entries: the log is drained after
    every batch (off the clock) so no call is evicted unseen.
    """

    def __init__(self, client: redis.Redis, queue: str, to: str | None = None) -> None:
        self.client, self.queue, self.to = client, queue, to
        self.moved, self.seconds, self.longest_us, self.logged = 0, 0.0, 0, 0
        self.cursor: str | None = None
        self.done = False
        self.top: list[tuple[int, int, str]] = []

    def step(self) -> None:
        """One batch, timed, then its SLOWLOG entries read."""
        self.client.slowlog_reset()
        t = time.monotonic()
        r = requeue_dead_batch(self.client, self.queue, batch_size=500, cursor=self.cursor, namespace=NS,
                               route=None if self.to is None else lambda _redis_id: self.to)
        self.seconds += time.monotonic() - t
        self.moved, self.cursor, self.done = self.moved + r.moved, r.next_cursor, r.done
        for e in self.client.slowlog_get(50_000):
            command = e["command"] if isinstance(e["command"], bytes) else str(e["command"]).encode()
            if command.upper().startswith(b"SLOWLOG"):
                continue  # the bench's own bookkeeping
            self.logged += 1
            self.longest_us = max(self.longest_us, int(e["duration"]))
            self.top.append((int(e["duration"]), self.logged, command[:48].decode("utf-8", "replace")))
        self.top = sorted(self.top, reverse=True)[:5]


def requeue_interleaved(client: redis.Redis, runs: list[Requeue]) -> None:
    """Run the requeues batch by batch in turn, so load on a shared machine falls on each alike."""
    client.config_set("slowlog-max-len", 50_000)
    client.config_set("slowlog-log-slower-than", 0)
    try:
        while not all(r.done for r in runs):
            for r in runs:
                if not r.done:
                    r.step()
    finally:
        client.config_set("slowlog-log-slower-than", 10_000)
        client.config_set("slowlog-max-len", 128)
    for r in runs:
        for us, n, command in r.top:
            print(f"#   {r.queue}: slow call {us / 1000:.2f} ms (call #{n}): {command}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="quick smoke run with small sizes")
    args = parser.parse_args(argv)
    if args.small:
        small_size = dict(waiting=200, dead=200, delayed=200, held=20, workers=4)
        large_size = dict(waiting=20_000, dead=5_000, delayed=2_000, held=200, workers=4)
        reps = 50
    else:
        small_size = dict(waiting=1_000, dead=1_000, delayed=1_000, held=100, workers=4)
        large_size = dict(waiting=1_000_000, dead=100_000, delayed=100_000, held=10_000, workers=4)
        reps = 500

    with tempfile.TemporaryDirectory(prefix="bench-valkey-") as tmp:
        server = EmbeddedValkey(Path(tmp), free_port(), appendonly=False)
        server.start()
        try:
            client = redis.Redis(host="127.0.0.1", port=server.port)
            t = time.monotonic()
            fill(client, "bench_small", **small_size)
            fill(client, "bench_large", **large_size)
            lane_size = dict(waiting=0, dead=large_size["dead"], delayed=0, held=0, workers=1)
            fill(client, "bench_lane", **lane_size)
            print(f"# embedded Valkey on port {server.port}; filled in {time.monotonic() - t:.1f} s")
            for q in ("bench_small", "bench_large"):
                s = Q.queue_stats(client, q)
                print(f"# {q}: waiting={s.waiting} delayed={s.delayed} held={s.held} dead={s.dead}")
            print(f"# median latency of one call (ms), page size {PAGE}, {reps} calls each")
            print(f"{'case':<16} {'small':>9} {'large':>9} {'ratio':>7}")
            rows = measure(client, "bench_small", "bench_large", reps)
            for name, s_ms, l_ms in rows:
                print(f"{name:<16} {s_ms:>9.3f} {l_ms:>9.3f} {l_ms / s_ms:>7.2f}")
            same, lane = Requeue(client, "bench_large"), Requeue(client, "bench_lane", to="bench_lane_batch")
            requeue_interleaved(client, [same, lane])
            moved, seconds, longest = same.moved, same.seconds, same.longest_us / 1000.0
            lane_s, lane_longest = lane.seconds, lane.longest_us / 1000.0
            dead_n = large_size["dead"]
            print(f"# requeued {moved} of {dead_n} dead letters in {seconds:.2f} s; "
                  f"{same.logged} Redis calls logged (script-internal included), longest {longest:.2f} ms")
            print(f"# moved {lane.moved} of {dead_n} dead letters to another queue in {lane_s:.2f} s; "
                  f"{lane.logged} Redis calls logged, longest {lane_longest:.2f} ms")
            assert moved == dead_n, (moved, dead_n)
            assert lane.moved == dead_n == client.llen(f"{NS}:bench_lane_batch"), (lane.moved, dead_n)
            for name, s_ms, l_ms in rows:
                print(f"ratio queues_{name} {l_ms / s_ms:.2f} target <= 1.5")
            print(f"requeue_{'100k' if not args.small else 'small'}_seconds {seconds:.2f} target < 20")
            print(f"requeue_longest_call_ms {longest:.2f} target < 50")
            print(f"ratio requeue_to_lane_vs_same_queue {lane_s / seconds:.2f} target <= 1.5")
            print(f"requeue_to_lane_{'100k' if not args.small else 'small'}_seconds {lane_s:.2f} target < 20")
            print(f"requeue_to_lane_longest_call_ms {lane_longest:.2f} target < 50")
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
