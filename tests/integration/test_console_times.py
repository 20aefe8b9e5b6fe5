"""One timestamp format everywhere in the console: every page of every console view shows its times through
the `when` / `when_full` filters (`2026-11-29 14:03`, `14:03:22` today, `2026-11-29 14:03:22 UTC`), never a
raw ISO string (`2026-11-29T14:03:22.123+00:00`) or another ad-hoc form. JSON (a message body in <pre>, a
filter in <code>) and machine-readable attributes (`<time datetime=...>`) keep ISO 8601."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

from sqlalchemy import text

from tests.integration.test_deadletters import fabricate_dead

#: Anything that looks like a date with a time of day, with whatever seconds, fraction and zone follow it.
STAMP = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2}| UTC)?")
#: The console's two forms that carry a date (the time-only form of today has none to find); the short one may
#: name its zone (a schedule's slots show in the schedule's own zone: `Mon 2026-12-07 08:00 CET`).
ALLOWED = (re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}(?: UTC)?"),
           re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC"))
#: Not pages: a server-sent event stream that never ends, and the PDF.
NOT_PAGES = {"console_events.events", "console.download"}
YESTERDAY = datetime.now(UTC) - timedelta(days=1, hours=1)


class _VisibleText(HTMLParser):
    """The text a reader sees: no attributes, nothing inside <pre>, <code>, <script> or <style>."""

    SKIP = {"pre", "code", "script", "style"}

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.depth += tag in self.SKIP

    def handle_endtag(self, tag: str) -> None:
        self.depth -= tag in self.SKIP and self.depth > 0

    def handle_data(self, data: str) -> None:
        if not self.depth:
            self.parts.append(data)


def stamps(html: str) -> tuple[list[str], list[str]]:
    """(timestamps in the console's format, any other timestamp) in the visible text of a page."""
    parser = _VisibleText()
    parser.feed(html)
    found = STAMP.findall(" ".join(parser.parts))
    good = [s for s in found if any(p.fullmatch(s) for p in ALLOWED)]
    return good, [s for s in found if s not in good]


def test_the_scanner_flags_raw_iso_and_ad_hoc_forms_and_passes_the_consoles_own():
    html = ("<p>2026-11-29T14:03:22.123+00:00 · 2026-11-29 14:03:22 · 2026-11-29 14:03 · "
            "2026-11-29 14:03:22 UTC</p><pre>2026-11-29T14:03:22Z</pre><time datetime='2026-11-29T14:03'></time>")
    assert stamps(html) == (["2026-11-29 14:03", "2026-11-29 14:03:22 UTC"],
                            ["2026-11-29T14:03:22.123+00:00", "2026-11-29 14:03:22"])


def _seed(app, client, admin_client, redis_client) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Something on every page: reports (times from yesterday, so the dated form shows), a waiting, a delayed
    and a dead message, audit rows, a paused queue, a fired alert, a bulk job, a schedule, an account."""
    from reportsvc.extensions import db
    from reportsvc.ops import bulkjobs
    from reportsvc.ops.deadletters import LetterFilter
    from reportsvc.state import alerts
    from reportsvc.tasks import generate_report

    rid = client.post("/reports", json={"title": "times"}).get_json()["id"]
    [dead_id] = fabricate_dead(app, redis_client, [(uuid.uuid4(), "boom", YESTERDAY.timestamp() * 1000)])
    generate_report.send_with_options(args=(rid,), delay=3_600_000)
    with app.app_context():
        db.session.execute(text("UPDATE report_requests SET created_at = :t, updated_at = :t, started_at = :t,"
                                " finished_at = :t, heartbeat_at = :t"), {"t": YESTERDAY})
        db.session.execute(text("UPDATE report_events SET created_at = :t"), {"t": YESTERDAY})
        db.session.commit()
        alerts.observe(alerts.Observation("dead_letters", True, 1, "1 dead letter"), cooldown_seconds=0,
                       notify=False)
        job_id = str(bulkjobs.create(action="requeue", queue="reports", flt=LetterFilter(
            dead_after=YESTERDAY - timedelta(hours=1)), actor="tester").id)
    assert client.post("/queues/reports/pause").status_code == 200
    schedule = admin_client.post("/schedules", json={"name": "times", "cron": "0 8 * * 1", "timezone": "UTC"})
    assert schedule.status_code == 201, schedule.get_data(as_text=True)
    waiting = client.get("/queues/reports/waiting").get_json()["items"][0]["redis_id"]
    delayed = client.get("/queues/reports/delayed").get_json()["items"][0]["redis_id"]
    return {"report_id": rid, "job_id": job_id, "schedule_id": str(schedule.get_json()["id"]),
            "messages": f"{waiting} {delayed} {dead_id}"}


def _urls(app, seeded: dict[str, str]) -> list[str]:  # type: ignore[no-untyped-def]
    """Every GET page of every console blueprint, its arguments filled from what was seeded (every state of
    every queue, each message); a view with an argument nobody knows fails here, so none is left out."""
    from reportsvc.queues.messages import STATES

    urls = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or not rule.endpoint.startswith("console") or rule.endpoint in NOT_PAGES:
            continue
        choices: dict[str, list[str]] = {}
        for arg in rule.arguments:
            if arg == "name":
                choices[arg] = ["test-admin"] if rule.endpoint.startswith("console_users") else ["reports"]
            elif arg == "state":
                choices[arg] = list(STATES)
            elif arg == "message_id":
                choices[arg] = seeded["messages"].split()
            else:
                assert arg in seeded, f"{rule.endpoint}: no value for <{arg}>"
                choices[arg] = [seeded[arg]]
        combos: list[dict[str, str]] = [{}]
        for arg, values in choices.items():
            combos = [c | {arg: v} for c in combos for v in values]
        with app.test_request_context():
            from flask import url_for

            urls += [url_for(rule.endpoint, **c) for c in combos]
    return urls


def test_every_console_page_shows_times_in_the_one_console_format(app, client, admin_client, redis_client):
    seeded = _seed(app, client, admin_client, redis_client)
    shown: dict[str, list[str]] = {}
    for url in _urls(app, seeded):
        for headers in ({}, {"HX-Request": "true"}):  # the full page and the fragment HTMX swaps in
            response = admin_client.get(url, headers=headers)
            assert response.status_code == 200, (url, response.status_code)
            if not response.mimetype.startswith("text/html"):
                continue
            good, bad = stamps(response.get_data(as_text=True))
            assert bad == [], (url, headers, bad)
            shown[url] = shown.get(url, []) + good
    # The scan saw real times: yesterday's in the dated forms where they show, today's in the full form.
    day = YESTERDAY.strftime("%Y-%m-%d")
    waiting, delayed, dead = seeded["messages"].split()
    for url in (f"/console/reports/{seeded['report_id']}", "/console/", "/console/queues/reports/dead",
                f"/console/queues/reports/messages/{dead}"):
        assert any(s.startswith(day) for s in shown[url]), (url, shown[url])
    for url in (f"/console/queues/reports/messages/{delayed}", f"/console/queues/reports/messages/{waiting}",
                "/console/queues"):
        assert any(s.endswith(" UTC") for s in shown[url]), (url, shown[url])
