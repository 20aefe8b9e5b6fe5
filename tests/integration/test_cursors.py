"""Every listing's cursor, API and console: malformed, negative, huge, unsigned and foreign cursors are 400
`invalid_cursor` before Redis or PostgreSQL is asked anything, and random ones never answer anything but
200 or 400 (a property test, including cursors sealed with the app key whose fields are out of range)."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reportsvc import cursors
from tests.integration.test_deadletters import fabricate_dead

K = "dramatiq:reports"
STATES = ("waiting", "delayed", "held", "dead")

#: (listing name the server seals with, API URL taking ?cursor=, console URL taking the cursor)
LISTINGS = [
    *[(f"queue:reports:{s}", f"/queues/reports/{s}?limit=2&cursor=", f"/console/queues/reports/{s}?cursor=")
      for s in STATES],
    ("reports", "/reports?limit=2&cursor=", "/console/?older="),
    ("reports", None, "/console/?newer="),
    ("audit", "/audit?limit=2&cursor=", "/console/audit?cursor="),
]

#: Raw inner cursors of every shape, each one a 500 or a whole-list read before the strict parser.
RAW = [
    "w:-1:x", "w:-5:x", "w:99999999999999999999999:x", "w:0:x", "h:-1", "h:18446744073709551616", "h:0",
    "x:nan:x", "x:inf:x", "x:-1.0:x", "k:w|-1", "k:w|18446744073709551616",
    cursors.encode_text("2026-01-01T00:00:00+00:00|99999999999999999999"),
    cursors.encode_text(f"2026-01-01T00:00:00+00:00|{uuid.uuid4()}"),
    cursors.encode_text("9999-99-99|1"),
]
GARBAGE = ["garbage", "%%%", "a" * 2000, "..", "x.yyyyyyyyyyyyyyyyyyyyyy", "\u00e9t\u00e9"]

#: Redis commands that read entries of a list, hash, set or sorted set (what a page costs).
READS = {"LRANGE", "LPOS", "LINDEX", "HSCAN", "SSCAN", "ZSCAN", "ZRANGE", "ZREVRANGE", "ZRANGEBYSCORE",
         "ZREVRANGEBYSCORE", "HMGET", "HGETALL", "HKEYS", "HVALS", "SMEMBERS", "SMISMEMBER", "EVALSHA", "EVAL",
         "KEYS", "SCAN"}


def _seed(app, redis_client, n: int = 6) -> None:
    """n waiting, n delayed and n dead messages, and n audit rows, so every listing has several pages."""
    from reportsvc.state import audit
    from reportsvc.tasks import generate_report

    pipe = redis_client.pipeline(transaction=False)
    for _ in range(n):
        rid = str(uuid.uuid4())
        msg = generate_report.message(str(uuid.uuid4())).copy(options={"redis_message_id": rid})
        pipe.hset(f"{K}.msgs", rid, msg.encode())
        pipe.rpush(K, rid)
        did = str(uuid.uuid4())
        pipe.hset(f"{K}.DQ.msgs", did, msg.copy(options={"redis_message_id": did, "eta": 1}).encode())
    pipe.execute()
    now = time.time() * 1000
    fabricate_dead(app, redis_client, [(uuid.uuid4(), "boom", now - i) for i in range(n)])
    with app.app_context():
        for i in range(n):
            audit.record("t", "test.action", f"thing:{i}", "ok")


def _foreign(client, listing: str) -> str:
    """A genuine next_cursor, but from another listing than ``listing``."""
    other = "/queues/reports/dead?limit=2" if listing != "queue:reports:dead" else "/audit?limit=2"
    cursor = client.get(other).get_json()["next_cursor"]
    assert cursor
    return cursor


def _slowlog_reads(redis_client) -> list[list[str]]:
    entries = redis_client.slowlog_get(10_000)
    out = []
    for e in entries:
        words = [w.decode() if isinstance(w, bytes) else str(w) for w in e["command"].split()] \
            if isinstance(e["command"], bytes | str) else list(e["command"])
        # Only the queue's own keys hold messages (the discovered-queue set and the heartbeats are small).
        if words and words[0].upper() in READS and any(w.startswith(K) for w in words[1:4]):
            out.append(words)
    return out


@pytest.fixture
def every_command_logged(redis_client):
    """SLOWLOG records every command from now on (threshold 0); restored afterwards."""
    old = redis_client.config_get("slowlog-log-slower-than")["slowlog-log-slower-than"]
    redis_client.config_set("slowlog-log-slower-than", 0)
    redis_client.slowlog_reset()
    yield
    redis_client.config_set("slowlog-log-slower-than", old)
    redis_client.slowlog_reset()


def test_bad_cursors_are_400_on_every_listing_and_never_reach_redis(app, client, admin_client, redis_client,
                                                                    every_command_logged):
    _seed(app, redis_client)
    tried = 0
    for listing, api_url, console_url in LISTINGS:
        bad = [*RAW, *GARBAGE, _foreign(client, listing)]
        redis_client.slowlog_reset()
        for cursor in bad:
            if api_url:
                r = client.get(api_url + _q(cursor))
                assert r.status_code == 400, (api_url, cursor, r.status_code)
                assert r.get_json()["error"]["code"] == "invalid_cursor", (api_url, cursor)
            r = admin_client.get(console_url + _q(cursor), headers={"Accept": "text/html"})
            assert r.status_code == 400, (console_url, cursor, r.status_code)
            tried += 1
        assert _slowlog_reads(redis_client) == [], listing
    assert tried == len(LISTINGS) * (len(RAW) + len(GARBAGE) + 1)


def _q(cursor: str) -> str:
    from urllib.parse import quote

    return quote(cursor, safe="")


def test_issued_cursors_still_walk_every_listing_to_the_end(app, client, redis_client):
    _seed(app, redis_client, n=5)
    for url in ("/queues/reports/waiting?limit=2", "/queues/reports/dead?limit=2",
                "/queues/reports/waiting?limit=2&order=oldest", "/audit?limit=2"):
        seen, body = 0, client.get(url).get_json()
        while True:
            seen += len(body["items"])
            if body["next_cursor"] is None:
                break
            assert ":" not in body["next_cursor"]  # sealed: no inner shape (w:..., x:...) shows through
            r = client.get(f"{url}&cursor={_q(body['next_cursor'])}")
            assert r.status_code == 200, r.get_data(as_text=True)
            body = r.get_json()
        assert seen == 5, url


def test_a_tampered_cursor_is_refused(app, client, redis_client):
    _seed(app, redis_client)
    cursor = client.get("/queues/reports/waiting?limit=2").get_json()["next_cursor"]
    inner, mac = cursor.split(".")
    forged = cursors.encode_text("w:0:" + str(uuid.uuid4())) + "." + mac
    r = client.get(f"/queues/reports/waiting?limit=2&cursor={forged}")
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "invalid_cursor"


def _key(app) -> bytes:
    key = app.secret_key
    return key if isinstance(key, bytes) else str(key).encode()


_ids = st.one_of(st.uuids().map(str), st.text(min_size=0, max_size=30))
_ints = st.one_of(st.integers(min_value=-(2**70), max_value=2**70), st.sampled_from([0, -1, 2**32, 2**63, 2**64]))
_scores = st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(repr), st.text(max_size=12))
_stamps = st.one_of(st.datetimes(timezones=st.just(UTC)).map(datetime.isoformat), st.text(max_size=30))
_INNER = {
    "waiting": st.builds(lambda i, a: f"w:{i}:{a}", _ints, _ids),
    "delayed": st.builds(lambda i: f"h:{i}", _ints),
    "held": st.builds(lambda w, i: f"k:{w}|{i}", _ids, _ints),
    "dead": st.builds(lambda s, a: f"x:{s}:{a}", _scores, _ids),
    "reports": st.builds(lambda t, i: cursors.encode_text(f"{t}|{i}"), _stamps, _ids),
    "audit": st.builds(lambda t, i: cursors.encode_text(f"{t}|{i}"), _stamps, _ints),
}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_cursors_on_every_listing_answer_200_or_400(app, client, admin_client, data):
    """Random text, and well-formed-looking inner cursors sealed with the app key (so they pass the seal and
    reach the strict parser), at every listing, API and console: 200 or 400, never a 500."""
    listing, api_url, console_url = data.draw(st.sampled_from(LISTINGS))
    kind = listing.rsplit(":", 1)[-1]
    sealed_inner = _INNER[kind].map(lambda inner: cursors.seal(_key(app), listing, inner))
    cursor = data.draw(st.one_of(st.text(min_size=1, max_size=60), sealed_inner))
    if api_url:
        r = client.get(api_url + _q(cursor))
        assert r.status_code in (200, 400), (api_url, cursor, r.get_data(as_text=True)[:300])
        if r.status_code == 400:  # control characters are the input guard's (invalid_input), the rest ours
            assert r.get_json()["error"]["code"] in ("invalid_cursor", "invalid_input")
    r = admin_client.get(console_url + _q(cursor), headers={"Accept": "text/html"})
    assert r.status_code in (200, 400), (console_url, cursor, r.status_code)
