"""The operator pages in a real browser: queues, dead letters, bulk jobs, workers, audit, dashboard, and what a
viewer's console shows (no control that changes anything)."""

from __future__ import annotations

import time
import uuid

import pytest

from tests.conftest import wait_for, wait_status
from tests.e2e.conftest import sign_in
from tests.integration.test_deadletters import DEAD, WAITING, fabricate_dead

pytestmark = pytest.mark.browser

VIEWER, VIEWER_PASSWORD = "e2e-viewer", "e2e viewer password"


def _no_reload(pg) -> None:  # type: ignore[no-untyped-def]
    """Mark the page; `_still_same_page` fails if it was reloaded since (live parts must swap in place)."""
    pg.evaluate("window.__noReload = true")


def _still_same_page(pg) -> bool:  # type: ignore[no-untyped-def]
    return pg.evaluate("window.__noReload === true") is True


def test_queues_page_counts_live_and_leads_to_the_messages(page, client, shoot) -> None:  # type: ignore[no-untyped-def]
    page.goto("/console/queues")
    counts = page.locator("#queue-counts tr[data-queue=reports] [data-count=waiting]")
    assert counts.inner_text() == "0"
    _no_reload(page)
    ids = [client.post("/reports", json={"title": f"queued {i}"}).get_json()["id"] for i in range(3)]  # no worker
    wait_for(lambda: counts.inner_text() == "3", timeout=15)  # the table polls itself
    assert _still_same_page(page)
    shoot(page, "queues-overview")
    counts.click()
    page.wait_for_url("**/console/queues/reports/waiting*")
    rows = page.locator("table tbody tr[data-id]")
    assert rows.count() == 3
    links = page.locator("table tbody tr[data-id] a[href^='/console/reports/']").all()
    shown = {a.get_attribute("href") for a in links}
    assert shown == {f"/console/reports/{rid}" for rid in ids}
    rows.first.locator("td.mono a").first.click()
    page.wait_for_url("**/console/queues/reports/messages/*")
    body = page.locator("main").inner_text()
    assert "generate_report" in body and any(rid in body for rid in ids)


def test_dead_letters_requeued_from_the_page(page, app, client, redis_client, shoot) -> None:  # type: ignore[no-untyped-def]
    rids = [uuid.uuid4() for _ in range(3)]
    now = time.time() * 1000
    redis_ids = fabricate_dead(app, redis_client, [(rid, f"boom {i}", now - i) for i, rid in enumerate(rids)])
    page.goto("/console/queues/reports/dead")
    assert page.locator("table tbody tr[data-id]").count() == 3
    shoot(page, "dead-letters")
    for redis_id in redis_ids[:2]:
        page.locator(f"tr[data-id='{redis_id}'] input[type=checkbox]").check()
    with page.expect_navigation():
        page.get_by_role("button", name="Requeue selected").click()
    page.wait_for_selector(".flash--success")
    assert [r.get_attribute("data-id") for r in page.locator("table tbody tr[data-id]").all()] == [redis_ids[2]]
    assert sorted(i.decode() for i in redis_client.lrange(WAITING, 0, -1)) == sorted(redis_ids[:2])
    assert redis_client.zcard(DEAD) == 1
    for rid in rids[:2]:
        assert client.get(f"/reports/{rid}/status").get_json()["status"] == "PENDING"
    assert client.get(f"/reports/{rids[2]}/status").get_json()["status"] == "FAILED"
    audit = client.get("/audit?action=dead.requeue").get_json()["items"]
    assert [(a["actor"], a["outcome"]) for a in audit] == [("e2e-operator", "ok")]


def test_requeue_all_matching_goes_to_the_batch_lane_unless_the_operator_picks(  # type: ignore[no-untyped-def]
    page, app, client, redis_client, make_worker
) -> None:
    rids = [uuid.uuid4() for _ in range(4)]
    now = time.time() * 1000
    redis_ids = fabricate_dead(app, redis_client, [(rid, "quota exceeded", now - i) for i, rid in enumerate(rids)])
    page.goto("/console/queues/reports/dead")
    # Ticked letters: the picker says "the queue they died on" until the operator changes it.
    assert page.locator("#sel-lane").input_value() == "original"
    page.locator(f"tr[data-id='{redis_ids[0]}'] input[type=checkbox]").check()
    page.locator("#sel-lane").select_option("interactive")
    with page.expect_navigation():
        page.get_by_role("button", name="Requeue selected").click()
    page.wait_for_selector(".flash--success")
    assert [i.decode() for i in redis_client.lrange(WAITING, 0, -1)] == [redis_ids[0]]
    # All matching: the batch lane is preselected.
    page.locator("#dead-bulk > summary").click()
    page.locator("#f-error").fill("quota")
    page.get_by_role("button", name="Count matching").click()
    page.wait_for_selector("#dead-count [data-count='3']")
    assert page.locator("#bulk-lane").input_value() == "batch"
    make_worker(threads=1, queues={"maintenance"})
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Requeue all 3 matching").click()
    page.wait_for_selector("#bulk-job[data-state='done']", timeout=30_000)
    assert "the batch lane" in page.locator("#bulk-job [data-lane]").inner_text()
    assert sorted(i.decode() for i in redis_client.lrange("dramatiq:reports-batch", 0, -1)) == sorted(redis_ids[1:])
    priorities = [client.get(f"/reports/{rid}").get_json()["priority"] for rid in rids]
    assert priorities == ["interactive", "batch", "batch", "batch"]


def test_bulk_job_progress_updates_in_place(page, app, client, redis_client, make_worker, shoot) -> None:  # type: ignore[no-untyped-def]
    total = 1500  # three batches of 500
    now = time.time() * 1000
    fabricate_dead(app, redis_client, [(uuid.uuid4(), "disk full", now - 60_000 + i) for i in range(total)])
    page.goto("/console/queues/reports/dead")
    page.locator("#dead-bulk > summary").click()
    page.locator("#f-error").fill("disk full")
    page.get_by_role("button", name="Count matching").click()
    page.wait_for_selector(f"#dead-count [data-count='{total}']")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name=f"Delete all {total} matching").click()
    card = page.locator("#bulk-job")
    card.wait_for()  # the job's page, whole (it once came back as the bare card, leaving an empty page)
    assert page.locator("h1").count() == 1
    assert card.get_attribute("data-state") == "queued"  # no worker yet: the job waits, and the page says so
    _no_reload(page)
    make_worker(threads=1)
    seen_states, seen_done = [], []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        state = card.get_attribute("data-state")
        done = int(card.locator("[data-done]").get_attribute("data-done"))
        if not seen_states or (state, done) != (seen_states[-1], seen_done[-1]):
            seen_states.append(state)
            seen_done.append(done)
        if state in ("done", "failed"):
            break
        page.wait_for_timeout(100)
    assert seen_states[-1] == "done" and seen_done[-1] == total, list(zip(seen_states, seen_done, strict=True))
    assert seen_done == sorted(seen_done)  # progress only moves forward
    assert _still_same_page(page)
    assert card.get_attribute("hx-get") is None  # a finished job stops polling
    shoot(page, "bulk-job-done")
    assert redis_client.zcard(DEAD) == 0


def test_workers_page_shows_a_live_worker(page, worker) -> None:  # type: ignore[no-untyped-def]
    page.goto("/console/workers")
    row = page.locator("#workers tr[data-worker]").first
    wait_for(lambda: page.locator("#workers tr[data-worker]").count() >= 1, timeout=20)  # the table polls
    assert row.locator(".badge").text_content() == "alive"
    assert row.get_by_role("button", name="Release held").count() == 0  # only dead workers can be released


def test_audit_page_lists_actions_and_filters_by_action(page, client, shoot) -> None:  # type: ignore[no-untyped-def]
    rid = client.post("/reports").get_json()["id"]
    assert client.delete(f"/reports/{rid}", headers={"X-Requested-By": "ops-carol"}).status_code == 200
    page.goto("/console/audit")
    row = page.locator("table tbody tr", has_text="ops-carol")
    assert row.count() == 1 and "report.cancel" in row.inner_text() and rid in row.inner_text()
    shoot(page, "audit")
    row.get_by_role("link", name="report.cancel").click()
    page.wait_for_url("**/console/audit?action=report.cancel*")
    assert "action report.cancel" in page.locator(".page-header__sub").inner_text()
    assert all("report.cancel" in r.inner_text() for r in page.locator("table tbody tr").all())


def test_dashboard_counts_update_in_place(page, client, worker, shoot) -> None:  # type: ignore[no-untyped-def]
    for i in range(2):
        wait_status(client, client.post("/reports", json={"title": f"d{i}"}).get_json()["id"], {"READY"})
    page.goto("/console/dashboard")
    created = page.locator(".stat", has_text="Created, last hour").locator(".stat__value")
    assert created.inner_text() == "2"
    assert page.locator("#dashboard-panel svg").count() >= 2  # server-drawn charts
    _no_reload(page)
    wait_status(client, client.post("/reports").get_json()["id"], {"READY"})
    wait_for(lambda: created.inner_text() == "3", timeout=30)  # the panel refreshes itself
    assert _still_same_page(page)
    shoot(page, "dashboard")


@pytest.fixture
def viewer_page(browser, live_server, app, monkeypatch):  # type: ignore[no-untyped-def]
    """A page signed in as a viewer through the real login page."""
    from reportsvc.state import accounts

    with app.app_context():
        if accounts.get_user(VIEWER) is None:
            accounts.create_user(VIEWER, "viewer", VIEWER_PASSWORD)
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    context = browser.new_context(base_url=live_server, viewport={"width": 1280, "height": 860})
    pg = context.new_page()
    pg.set_default_timeout(20_000)
    sign_in(pg, VIEWER, VIEWER_PASSWORD)
    yield pg
    context.close()


MUTATING = ("form[method=post i]:not(.account__signout), [hx-post], [hx-put], [hx-patch], [hx-delete], "
            "input[type=checkbox][name=ids]")


def test_viewer_console_has_no_mutating_control(viewer_page, app, client, redis_client, worker) -> None:  # type: ignore[no-untyped-def]
    ready = client.post("/reports", json={"title": "viewer sees"}).get_json()["id"]
    wait_status(client, ready, {"READY"})
    pending_rid = uuid.uuid4()
    fabricate_dead(app, redis_client, [(pending_rid, "boom", time.time() * 1000)])
    pages = ["/console/", f"/console/reports/{ready}", f"/console/reports/{pending_rid}", "/console/queues",
             "/console/queues/reports/waiting", "/console/queues/reports/dead", "/console/workers",
             "/console/audit", "/console/dashboard"]
    for url in pages:
        response = viewer_page.goto(url)
        assert response is not None and response.status == 200, url
        viewer_page.wait_for_load_state("networkidle")
        controls = viewer_page.locator(MUTATING)
        found = [c.evaluate("e => e.outerHTML.slice(0, 160)") for c in controls.all()]
        assert found == [], (url, found)
        assert viewer_page.get_by_role("button", name="Queue report").count() == 0, url
    # what is shown is still readable: the READY report's PDF downloads for a viewer
    viewer_page.goto(f"/console/reports/{ready}")
    assert viewer_page.get_by_role("link", name="Download").count() >= 1
