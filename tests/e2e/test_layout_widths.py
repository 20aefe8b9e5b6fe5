"""The console fits its window: a 200-character unbroken title or error does not widen a page past a 1,280 px
window (long words wrap, bodies scroll inside their own box), and every main page fits a 390 px phone."""

from __future__ import annotations

import time
import uuid

import pytest

from tests.conftest import wait_status
from tests.e2e.test_users_browser import E2E_ADMIN, admin_page  # noqa: F401  (the fixture)
from tests.integration.test_deadletters import fabricate_dead

pytestmark = pytest.mark.browser

LONG = "W" * 200


def test_a_long_unbroken_title_wraps_on_the_list_and_the_detail(page, client):
    rid = client.post("/reports", json={"title": LONG}).get_json()["id"]
    for url in ("/console/", f"/console/reports/{rid}"):
        page.goto(url)
        page.wait_for_load_state("networkidle")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 1280, (url, width)


def test_a_queue_message_page_keeps_its_body_inside_its_box(page, client):
    client.post("/reports", json={"title": LONG})
    item = client.get("/queues/reports/waiting").get_json()["items"][0]
    page.goto(f"/console/queues/reports/messages/{item['redis_id']}")
    page.wait_for_load_state("networkidle")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 1280, width


def _scroll_width(pg, url: str) -> int:  # type: ignore[no-untyped-def]
    pg.goto(url)
    pg.wait_for_load_state("load")  # not networkidle: pages with an event stream keep it open
    pg.wait_for_timeout(300)  # the polled fragments (workers, counts) have arrived
    return int(pg.evaluate("document.documentElement.scrollWidth"))


def test_the_dead_letter_table_fits_a_1280_px_window(page, app, redis_client):
    # Long unbroken errors and titles, as a failing renderer writes them: the table still fits the window.
    rid = uuid.uuid4()
    fabricate_dead(app, redis_client, [(rid, "E" * 300, time.time() * 1000),
                                       (uuid.uuid4(), "Traceback: " + "x/" * 150, time.time() * 1000 - 1)])
    width = _scroll_width(page, "/console/queues/reports/dead")
    assert page.locator("table tbody tr").count() == 2
    # The table fits its box at this width (no sideways scroll inside it either), and the page fits the window.
    table, box = page.evaluate("[document.querySelector('.table-wrap table').offsetWidth,"
                               " document.querySelector('.table-wrap').clientWidth]")
    assert width <= 1280 and table <= box, (width, table, box)


PHONE = {"width": 390, "height": 844}


def test_every_main_page_fits_a_390_px_phone(page, browser, live_server, app, client, redis_client, worker):
    rid = client.post("/reports", json={"title": LONG}).get_json()["id"]
    wait_status(client, rid, {"READY"})
    [dead_id] = fabricate_dead(app, redis_client, [(uuid.uuid4(), "E" * 300, time.time() * 1000)])
    client.post("/reports", json={"title": LONG}, headers={"X-Requested-By": "ops-" + "w" * 60})
    phone = browser.new_context(base_url=live_server, viewport=PHONE, device_scale_factor=1, is_mobile=True,
                                has_touch=True, storage_state=page.context.storage_state())
    try:
        pg = phone.new_page()
        too_wide = {}
        for url in ("/console/", f"/console/reports/{rid}", "/console/queues", "/console/queues/reports/waiting",
                    "/console/queues/reports/dead", f"/console/queues/reports/messages/{dead_id}",
                    "/console/workers", "/console/audit", "/console/dashboard", "/console/alerts",
                    "/console/schedules"):
            width = _scroll_width(pg, url)
            if url == "/console/workers":
                assert pg.locator("#workers tr[data-worker]").count() >= 1  # measured with a worker row in it
            if width > PHONE["width"]:
                too_wide[url] = width
        assert too_wide == {}, too_wide
    finally:
        phone.close()


def test_the_admin_pages_fit_a_390_px_phone(admin_page, browser, live_server, admin_client):  # noqa: F811
    name = "u" + "w" * 60  # the longest name an account may have (64), in one unbroken word
    assert admin_client.post("/users", json={"name": name, "role": "viewer"}).status_code == 201
    assert admin_client.post("/tokens", json={"user": name, "label": "L" * 100}).status_code == 201
    phone = browser.new_context(base_url=live_server, viewport=PHONE, device_scale_factor=1, is_mobile=True,
                                has_touch=True, storage_state=admin_page.context.storage_state())
    try:
        pg = phone.new_page()
        widths = {url: _scroll_width(pg, url) for url in ("/console/users", f"/console/users/{name}",
                                                           f"/console/users/{E2E_ADMIN}")}
        assert pg.locator("#user-detail").count() == 1
        assert all(w <= PHONE["width"] for w in widths.values()), widths
    finally:
        phone.close()
