"""A cancel racing the worker, in real threads: each report ends exactly one way, CANCELLED or READY."""

from __future__ import annotations

import functools
import uuid
from collections import Counter

from reportsvc.ops import jobs
from reportsvc.state import lifecycle
from reportsvc.state.storage import LocalStorage, report_key
from tests.race import run_together

PDF = b"%PDF-1.4 race\n%%EOF\n"


def _worker_side(app, report_id: uuid.UUID, claim) -> str:  # type: ignore[no-untyped-def]
    """What the generate actor does with a claim: publish and finish, or land a cancel it finds requested."""
    storage = LocalStorage(app.extensions["reportsvc.settings"].storage_dir)
    key = report_key(report_id, claim.run_id)
    with app.app_context():
        if lifecycle.finish(report_id, claim.run_id, publish=lambda: (key, storage.save(key, PDF)),
                            expected=(key, len(PDF))):
            return "READY"
        assert lifecycle.cancel_running(report_id, claim.run_id), "finish refused but no cancel to land"
        return "CANCELLED"


def _settled(app, client, report_id: uuid.UUID) -> str:  # type: ignore[no-untyped-def]
    """The report's end state, checked for being exactly one of the two."""
    body = client.get(f"/reports/{report_id}").get_json()
    kinds = Counter(e["kind"] for e in body["events"])
    on_disk = any((app.extensions["reportsvc.settings"].storage_dir / str(report_id)).glob("*.pdf"))
    if body["status"] == "READY":
        assert kinds["completed"] == 1 and kinds["cancelled"] == 0 and on_disk and body["file_size"] == len(PDF)
    else:
        assert body["status"] == "CANCELLED", body["status"]
        assert kinds["cancelled"] == 1 and kinds["completed"] == 0 and not on_disk and body["file_size"] is None
    return str(body["status"])


def test_cancel_racing_a_claim_ends_cancelled_or_ready_never_both(app, client):
    outcomes: Counter[str] = Counter()
    for _ in range(15):
        report_id = uuid.UUID(client.post("/reports").get_json()["id"])
        claim, cancel = run_together(
            app,
            functools.partial(lifecycle.claim, report_id, worker="racer:1", message_id=None),
            functools.partial(jobs.cancel, report_id, actor="ops"),
        )
        assert cancel.ok
        if claim is None:  # the cancel came first: nothing ran
            assert cancel.status == "CANCELLED"
        else:  # the claim came first: the cancel is a request the worker lands instead of READY
            assert cancel.status == "RUNNING" and cancel.cancel_requested
            assert _worker_side(app, report_id, claim) == "CANCELLED"
        outcomes[("claim first" if claim else "cancel first")] += 1
        assert _settled(app, client, report_id) == "CANCELLED"
    assert sum(outcomes.values()) == 15


def test_cancel_racing_the_finish_ends_exactly_one_way(app, client):
    outcomes: Counter[str] = Counter()
    for _ in range(15):
        report_id = uuid.UUID(client.post("/reports").get_json()["id"])
        with app.app_context():
            claim = lifecycle.claim(report_id, worker="racer:1", message_id=None)
        assert claim is not None
        ended, cancel = run_together(
            app,
            functools.partial(_worker_side, app, report_id, claim),
            functools.partial(jobs.cancel, report_id, actor="ops"),
        )
        # the cancel either reached a RUNNING report (and the worker landed it) or found it READY (refused)
        assert (ended, cancel.ok) in (("CANCELLED", True), ("READY", False)), (ended, cancel)
        assert _settled(app, client, report_id) == ended
        outcomes[ended] += 1
    assert sum(outcomes.values()) == 15
