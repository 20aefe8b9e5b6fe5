"""The queue console pages render what the JSON API says, and their forms act like the API."""

from __future__ import annotations

import time
import uuid

from tests.conftest import wait_for
from tests.integration.test_deadletters import DEAD, WAITING, fabricate_dead, maintenance_worker  # noqa: F401


def test_pages_render_and_link_reports(app, client, redis_client):
    specs = [(uuid.uuid4(), f"error number {i}", time.time() * 1000 - i) for i in range(5)]
    ids = fabricate_dead(app, redis_client, specs)
    page = client.get("/console/queues")
    assert page.status_code == 200 and 'data-queue="reports"' in page.get_data(as_text=True)
    assert 'hx-trigger="every 2s, sse:queue"' in page.get_data(as_text=True)
    fragment = client.get("/console/queues", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert fragment.lstrip().startswith("{#") is False and 'id="queue-counts"' in fragment and "<html" not in fragment
    dead = client.get("/console/queues/reports/dead").get_data(as_text=True)
    for (rid, err, _), redis_id in zip(specs, ids, strict=True):
        assert f'href="/console/reports/{rid}"' in dead and err in dead and f'value="{redis_id}"' in dead
    assert "Requeue selected" in dead and "Count matching" in dead
    detail = client.get(f"/console/queues/reports/messages/{ids[0]}").get_data(as_text=True)
    assert "generate_report" in detail and str(specs[0][0]) in detail
    for url in ("/console/queues/reports/waiting", "/console/queues/reports/delayed", "/console/queues/reports/held",
                "/console/workers", "/console/audit"):
        assert client.get(url).status_code == 200, url
    assert "<script>" not in dead and "<script>" not in detail
    assert client.get("/console/queues/nope/dead").status_code == 404
    assert client.get("/console/queues/reports/dead?cursor=zz").status_code == 400


def test_requeue_selected_then_all_matching(app, client, redis_client, maintenance_worker):  # noqa: F811
    specs = [(uuid.uuid4(), "simulated failure", time.time() * 1000 - 100 + i) for i in range(5)]
    ids = fabricate_dead(app, redis_client, specs)
    r = client.post("/console/queues/reports/dead/requeue", data={"ids": ids[:2]},
                    headers={"X-Requested-By": "ops-eve"})
    assert r.status_code == 303
    assert redis_client.zcard(DEAD) == 3 and redis_client.llen(WAITING) == 2
    assert "Requeued 2 of 2" in client.get(r.headers["Location"]).get_data(as_text=True)

    count = client.post("/console/queues/reports/dead-count", data={"error": "simulated"},
                        headers={"HX-Request": "true"}).get_data(as_text=True)
    assert 'data-count="3"' in count and "Requeue all 3 matching" in count
    assert '<option value="batch" selected>' in count  # all matching: the batch lane unless the operator picks
    r = client.post("/console/queues/reports/dead-all/requeue", data={"error": "simulated"})
    assert r.status_code == 303 and "/console/queues/bulk-jobs/" in r.headers["Location"]
    job_url = r.headers["Location"]
    wait_for(lambda: 'data-state="done"' in client.get(job_url).get_data(as_text=True), timeout=30)
    assert 'data-lane="batch"' in client.get(job_url).get_data(as_text=True)
    # The two ticked ones went back to their own queue, the three of "all matching" to the batch lane.
    assert redis_client.zcard(DEAD) == 0 and redis_client.llen(WAITING) == 2
    assert redis_client.llen("dramatiq:reports-batch") == 3
    statuses = {client.get(f"/reports/{rid}/status").get_json()["status"] for rid, _, _ in specs}
    assert statuses == {"PENDING"}
    audit_page = client.get("/console/audit").get_data(as_text=True)
    assert "dead.requeue_all" in audit_page and "ops-eve" in audit_page


def test_bad_filter_shows_an_error_and_starts_nothing(app, client, redis_client):
    fabricate_dead(app, redis_client, [(uuid.uuid4(), "x", time.time() * 1000)])
    body = client.post("/console/queues/reports/dead-count", data={"dead_after": "soon"},
                       headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "callout--error" in body and "ISO 8601" in body
    r = client.post("/console/queues/reports/dead-all/delete", data={"dead_after": "soon"})
    assert r.status_code == 303 and redis_client.zcard(DEAD) == 1
