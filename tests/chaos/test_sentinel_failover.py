"""kill -9 of the Sentinel-managed Redis master while reports flow: web, two workers and the scheduler (real
processes, REDIS_SENTINELS) follow the promoted replica without a restart, the API answers 503 at worst during
the failover window (measured and printed), the reconciler re-sends what the failover lost, and every report
ends READY exactly once with one PDF.

"Acknowledged but not replicated" is made certain rather than left to luck: just before the kill the replica is
frozen (SIGSTOP) and cut off (CLIENT KILL TYPE replica), so the reports submitted then are enqueued on the
master alone, as when a master dies with replication lagging.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
import urllib.error
import urllib.request
from typing import Any

import redis

from reportsvc.dev.engine_base import free_port
from tests.chaos.harness import (
    Proc,
    assert_published_once,
    running_reports,
    scheduler_proc,
    web_proc,
    worker_ids,
    worker_proc,
)
from tests.conftest import TEST_OPERATOR, wait_for, with_sentinel

#: What a client waits for an answer; a request that takes longer is a hang.
REQUEST_TIMEOUT = 10.0


class Api:
    """The web process's JSON API, as a client sees it: (status, body) or the exception a hang or reset gives."""

    def __init__(self, port: int, token: str) -> None:
        self.base, self.token = f"http://127.0.0.1:{port}", token

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        """One request; raises on a timeout or a dropped connection (the test counts those as failures)."""
        request = urllib.request.Request(self.base + path, method=method,
                                         data=json.dumps(body).encode() if body is not None else None,
                                         headers={"Authorization": f"Bearer {self.token}",
                                                  "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT) as reply:
                return reply.status, json.loads(reply.read() or b"null")
        except urllib.error.HTTPError as refused:
            raw = refused.read()
            return refused.code, json.loads(raw) if refused.headers.get_content_type() == "application/json" else raw

    def submit(self, sleep_seconds: float) -> str:
        """POST /reports; the id of the report (its 202 is asserted)."""
        status, body = self.call("POST", "/reports", {"params": {"simulate": {"sleep_seconds": sleep_seconds}}})
        assert status == 202, (status, body)
        return str(body["id"])


class Prober(threading.Thread):
    """GET /queues (it reads Redis on every call) every 50 ms: (time, status or the error) of each answer."""

    def __init__(self, api: Api) -> None:
        super().__init__(daemon=True)
        self.api, self.answers, self.stopped = api, [], threading.Event()

    def run(self) -> None:
        """Probe until stopped."""
        while not self.stopped.wait(0.05):
            started = time.time()
            try:
                status: int | str = self.api.call("GET", "/queues")[0]
            except Exception as exc:  # a hang past REQUEST_TIMEOUT or a reset: recorded, asserted absent
                status = f"{type(exc).__name__}: {exc}"
            self.answers.append((started, status))

    def window(self, since: float) -> tuple[float, float] | None:
        """(first failed answer after `since`, first success after it), or None if nothing failed."""
        later = [(t, s) for t, s in self.answers if t >= since]
        first_bad = next((t for t, s in later if s != 200), None)
        if first_bad is None:
            return None
        recovered = next((t for t, s in later if t > first_bad and s == 200), None)
        assert recovered is not None, "the API never answered 200 again after the failover"
        return first_bad, recovered


def _message_ids_on(node: Any) -> set[str]:
    """message_id of every generate message the Redis at `node` holds (bodies of every queue)."""
    client = redis.Redis(node.host, node.port, socket_timeout=2)
    found = set()
    for key in client.scan_iter("dramatiq:*.msgs"):
        found |= {json.loads(body)["message_id"] for body in client.hvals(key)}
    return found


def test_kill_9_of_the_sentinel_master_loses_no_report_and_the_api_answers_503_at_worst(
        app, client, auth_tokens, chaos_settings, sentinel_group, procs, tmp_path):
    settings = with_sentinel(chaos_settings, sentinel_group, email_host=None)
    port = free_port()
    web = web_proc(settings, tmp_path / "web.log", port, SECRET_KEY=secrets.token_urlsafe(48))
    fleet: list[Proc] = [web, *(worker_proc(settings, tmp_path / f"worker-{i}.log") for i in range(2)),
                         scheduler_proc(settings, tmp_path / "scheduler.log")]
    for proc in fleet:
        procs.append(proc.start())
    api = Api(port, auth_tokens.token(TEST_OPERATOR))

    def web_ready() -> bool:
        try:
            return api.call("GET", "/readyz")[1]["status"] == "ok"
        except OSError:
            return False

    wait_for(web_ready, timeout=60, interval=0.2)
    forked = [proc.children() for proc in fleet[1:3]]
    prober = Prober(api)
    prober.start()

    # Load: 20 four-second reports keep the 8 worker threads busy and their prefetch (8 more) full, so the
    # reports sent next wait in Redis until well after the kill.
    ids = [api.submit(4.0) for _ in range(20)]
    wait_for(lambda: len(running_reports(app)) >= 6, timeout=30, interval=0.1)

    # Replication lags: the replica is frozen and cut off, then six reports are acknowledged by the master alone.
    old = sentinel_group.master()
    replica = next(node for node in sentinel_group.nodes if node is not old)
    replica.freeze()
    redis.Redis(old.host, old.port).client_kill_filter(_type="replica")
    unreplicated = [api.submit(0.5) for _ in range(6)]
    sent = {rid: client.get(f"/reports/{rid}").get_json()["message_id"] for rid in unreplicated}
    assert all(sent.values()) and set(sent.values()) <= _message_ids_on(old)  # acknowledged: on the master

    killed_at = time.time()
    old.kill()  # kill -9
    replica.thaw()
    during = []
    while time.time() - killed_at < 2.5:  # the API keeps taking reports while no master answers
        during.append(api.submit(0.5))
        time.sleep(0.25)
    new = sentinel_group.wait_promoted(old, timeout=30)
    promoted_at = time.time()
    lost = {rid for rid, message_id in sent.items() if message_id not in _message_ids_on(new)}
    after = [api.submit(0.5) for _ in range(4)]
    everything = ids + unreplicated + during + after

    def all_ready() -> bool:
        return all(client.get(f"/reports/{rid}/status").get_json()["status"] == "READY" for rid in everything)

    wait_for(all_ready, timeout=90, interval=0.5)
    prober.stopped.set()
    prober.join(REQUEST_TIMEOUT + 1)

    # The sentinels promoted the replica; no process was restarted (same pids, same forked workers).
    assert new is replica and redis.Redis(new.host, new.port).info("replication")["role"] == "master"
    assert all(proc.popen is not None and proc.popen.poll() is None for proc in fleet), [p.log_text()[-2000:]
                                                                                         for p in fleet]
    assert [proc.children() for proc in fleet[1:3]] == forked
    # The API answered 200 or 503 throughout (never a 500, never a hang), and the window is measured.
    answers = [status for _, status in prober.answers]
    assert set(answers) <= {200, 503}, sorted({str(s) for s in answers} - {"200", "503"})
    window = prober.window(killed_at)
    assert window is not None, "no request failed: the probe missed the failover"
    print(f"\nfailover window: {window[1] - window[0]:.2f} s of 503s on GET /queues (kill -9 to first 503: "
          f"{window[0] - killed_at:.2f} s; kill -9 to promotion seen by the test: {promoted_at - killed_at:.2f} s)")
    # Every report is READY exactly once with one PDF; what the failover lost was re-sent by the reconciler.
    for rid in everything:
        kinds = [e["kind"] for e in client.get(f"/reports/{rid}").get_json()["events"]]
        assert kinds.count("completed") == 1, (rid, kinds)
    assert_published_once(client, settings, everything)
    assert lost, "the replica was cut off, yet the new master holds every message sent to the old one"
    for rid in lost:
        events = client.get(f"/reports/{rid}").get_json()["events"]
        assert any(e["kind"] == "requeued" and (e["detail"] or {}).get("by") == "reconcile" for e in events), rid
    # Work resumed after the promotion in the same worker processes: they rendered what was sent after it.
    assert {client.get(f"/reports/{rid}").get_json()["worker"] for rid in after} <= set().union(
        *(worker_ids(proc) for proc in fleet[1:3]))
