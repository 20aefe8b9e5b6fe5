"""A 200-character unbroken title does not widen the console past a 1,280 px window: long words wrap."""

from __future__ import annotations

import pytest

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
