"""A viewer sees the whole console but no control that would change something; an operator sees them all (issue 6).

The matching requests are refused centrally (test_auth_policy); these tests check the pages themselves: every
mutating form, button and tick box is absent for a viewer, present for an operator, and the header names the
signed-in user, their role and a Sign out control.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import pytest

from tests.conftest import TEST_ADMIN, TEST_OPERATOR, TEST_VIEWER
from tests.integration.test_console_pages import _create, _set_status
from tests.integration.test_deadletters import fabricate_dead
from tests.integration.test_queues_api import side_broker

HX = {"HX-Request": "true"}

#: Fragments of the URLs (form actions / hx-post targets) of every console mutation.
MUTATING = ("/cancel", "/retry", 'action="/console/reports"', "/dead/requeue", "/dead/delete", "/dead-count",
            "/dead-all/", "/promote", "/release")


def _html(client, url: str, headers: dict[str, str] | None = None) -> str:  # type: ignore[no-untyped-def]
    response = client.get(url, headers=headers or {})
    assert response.status_code == 200, (url, response.status_code)
    return response.get_data(as_text=True)


def _main(html: str) -> str:
    """The page without its header (the header's Sign out form is the one POST a viewer keeps)."""
    return html.split('<main id="main"', 1)[1] if '<main id="main"' in html else html


def _mutations(html: str) -> list[str]:
    """What in the page's content could change something: POST forms, hx-post/put/delete, tick boxes."""
    body = _main(html)
    found = [m.group(0) for m in re.finditer(r'<form\b[^>]*method="post"[^>]*>', body)]
    found += [m.group(0) for m in re.finditer(r'\bhx-(?:post|put|patch|delete)="[^"]*"', body)]
    found += [m.group(0) for m in re.finditer(r'<input\b[^>]*type="checkbox"[^>]*>', body)]
    found += [fragment for fragment in MUTATING if fragment in body]
    return found


def _reports(app) -> dict[str, uuid.UUID]:  # type: ignore[no-untyped-def]
    ids = {status: _create(app, title=f"{status.title()} report") for status in ("PENDING", "READY", "FAILED")}
    _set_status(app, ids["READY"], "READY", progress=100, file_path="x.pdf", file_size=1234)
    _set_status(app, ids["FAILED"], "FAILED", error_message="boom", attempts=4)
    return ids


@pytest.fixture
def queue_fixtures(app, engines, redis_client) -> Any:  # type: ignore[no-untyped-def]
    """A dead letter, a delayed message and a message held by a dead worker; yields their Redis ids."""
    from reportsvc.tasks import generate_report

    dead = fabricate_dead(app, redis_client, [(uuid.uuid4(), "simulated failure", time.time() * 1000)])[0]
    delayed = generate_report.send_with_options(args=(str(uuid.uuid4()),), delay=3_600_000)
    held = generate_report.send(str(uuid.uuid4())).options["redis_message_id"]
    other = side_broker(engines.redis_url)
    assert len(other.do_fetch("reports", 1)) == 1
    # What kill -9 leaves: the ack set stays, the heartbeat stops advancing.
    redis_client.zadd("dramatiq:__heartbeats__", {other.broker_id: int(time.time() * 1000) - 120_000})
    yield {"dead": dead, "delayed": delayed.options["redis_message_id"], "held": held, "worker": other.broker_id}
    other.close()


# --------------------------------------------------------------------------- reports


def test_viewer_reports_list_has_no_mutating_controls(app, viewer_client) -> None:  # type: ignore[no-untyped-def]
    ids = _reports(app)
    html = _html(viewer_client, "/console/")
    assert _mutations(html) == []
    assert 'id="generate-form"' not in html and 'id="generate"' not in html and "Queue report" not in html
    assert "Read-only access: ask an operator to generate reports" in html
    # reading and downloading stay
    assert f'href="/console/reports/{ids["READY"]}/download"' in html
    for rid in ids.values():
        assert f'id="row-{rid}"' in html
    # the HTMX fragments the list refreshes with are just as bare
    fragment = _html(viewer_client, "/console/", HX)
    assert _mutations(fragment) == [] and f"/console/reports/{ids['READY']}/download" in fragment
    live = _html(viewer_client, "/console/live?ids=" + ",".join(str(i) for i in ids.values()), HX)
    assert _mutations(live) == [] and f'id="row-{ids["PENDING"]}"' in live


def test_operator_reports_list_has_every_control(app, client) -> None:  # type: ignore[no-untyped-def]
    ids = _reports(app)
    html = _html(client, "/console/")
    assert 'id="generate-form"' in html and 'action="/console/reports"' in html and "Queue report" in html
    assert "Read-only access" not in html
    assert f'action="/console/reports/{ids["PENDING"]}/cancel"' in html
    assert f'action="/console/reports/{ids["FAILED"]}/retry"' in html
    assert f'href="/console/reports/{ids["READY"]}/download"' in html


@pytest.mark.parametrize("status", ["PENDING", "READY", "FAILED"])
def test_viewer_report_detail_has_no_mutating_controls(app, viewer_client, client, status) -> None:  # type: ignore[no-untyped-def]
    rid = _reports(app)[status]
    html = _html(viewer_client, f"/console/reports/{rid}")
    assert _mutations(html) == [], status
    assert f'id="report-detail" data-status="{status}"' in html
    assert (f'href="/console/reports/{rid}/download"' in html) is (status == "READY")
    fragment = _html(viewer_client, f"/console/reports/{rid}", HX)
    assert _mutations(fragment) == [], status
    # the operator's version of the same page does have the state's action
    operator = _main(_html(client, f"/console/reports/{rid}"))
    expected = {"PENDING": f"/console/reports/{rid}/cancel", "FAILED": f"/console/reports/{rid}/retry",
                "READY": f"/console/reports/{rid}/download"}[status]
    assert expected in operator


def test_viewer_with_no_reports_is_not_told_to_generate(viewer_client, client) -> None:  # type: ignore[no-untyped-def]
    html = _html(viewer_client, "/console/")
    assert "No reports yet." in html and "Generate report" not in _main(html)
    assert "Use <strong>Generate report</strong> above" in _html(client, "/console/")


# --------------------------------------------------------------------------- queues and workers


def test_viewer_queue_pages_have_no_mutating_controls(viewer_client, queue_fixtures) -> None:  # type: ignore[no-untyped-def]
    ids = queue_fixtures
    pages = ["/console/queues", "/console/queues/reports/dead", "/console/queues/reports/delayed",
             "/console/queues/reports/held", "/console/queues/reports/waiting", "/console/workers",
             "/console/audit", "/console/dashboard",
             f"/console/queues/reports/messages/{ids['dead']}",
             f"/console/queues/reports/messages/{ids['delayed']}",
             f"/console/queues/reports/messages/{ids['held']}"]
    for url in pages:
        html = _html(viewer_client, url)
        assert _mutations(html) == [], url
    dead = _html(viewer_client, "/console/queues/reports/dead")
    # the dead letter is listed and linked, without the tick-box column, the bulk form or the buttons
    assert f'data-id="{ids["dead"]}"' in dead and "simulated failure" in dead
    assert 'id="dead-form"' not in dead and 'id="dead-bulk"' not in dead
    assert "Select</span></th>" not in dead and "Requeue selected" not in dead and "Count matching" not in dead
    workers = _html(viewer_client, "/console/workers")
    assert f'data-worker="{ids["worker"]}"' in workers and "Release held" not in workers
    header = re.search(r"<thead>.*?</thead>", workers, re.S)
    assert header is not None and len(re.findall(r"<th\b", header.group(0))) == 5  # no empty actions column
    assert _mutations(_html(viewer_client, "/console/workers", HX)) == []
    message = _html(viewer_client, f"/console/queues/reports/messages/{ids['dead']}")
    assert 'class="btn-group"' not in message  # no empty button row left behind


def test_operator_queue_pages_have_every_control(client, queue_fixtures) -> None:  # type: ignore[no-untyped-def]
    ids = queue_fixtures
    dead = _html(client, "/console/queues/reports/dead")
    assert 'id="dead-form"' in dead and 'action="/console/queues/reports/dead/requeue"' in dead
    assert "/console/queues/reports/dead/delete" in dead and 'action="/console/queues/reports/dead-count"' in dead
    assert f'type="checkbox" name="ids" value="{ids["dead"]}"' in dead
    message = _html(client, f"/console/queues/reports/messages/{ids['dead']}")
    assert "/console/queues/reports/dead/requeue" in message and "/console/queues/reports/dead/delete" in message
    delayed = _html(client, f"/console/queues/reports/messages/{ids['delayed']}")
    assert f"/console/queues/reports/messages/{ids['delayed']}/promote" in delayed
    held = _html(client, f"/console/queues/reports/messages/{ids['held']}")
    assert f"/console/queues/reports/messages/{ids['held']}/release" in held
    workers = _html(client, "/console/workers")
    assert f'action="/console/workers/{ids["worker"]}/release"' in workers and "Release held" in workers
    count = client.post("/console/queues/reports/dead-count", data={"error": "simulated"}, headers=HX)
    body = count.get_data(as_text=True)
    assert count.status_code == 200 and "/console/queues/reports/dead-all/requeue" in body
    assert "/console/queues/reports/dead-all/delete" in body


def test_viewer_is_refused_the_mutations_the_pages_hide(app, viewer_client, queue_fixtures) -> None:  # type: ignore[no-untyped-def]
    ids = _reports(app)
    for url in (f"/console/reports/{ids['PENDING']}/cancel", f"/console/reports/{ids['FAILED']}/retry",
                "/console/reports", "/console/queues/reports/dead/requeue", "/console/queues/reports/dead-count",
                f"/console/queues/reports/messages/{queue_fixtures['delayed']}/promote",
                f"/console/workers/{queue_fixtures['worker']}/release"):
        assert viewer_client.post(url, data={"ids": [queue_fixtures["dead"]]}).status_code == 403, url


# --------------------------------------------------------------------------- header


@pytest.mark.parametrize(("fixture", "name", "role"), [("viewer_client", TEST_VIEWER, "viewer"),
                                                       ("client", TEST_OPERATOR, "operator"),
                                                       ("admin_client", TEST_ADMIN, "admin")])
def test_header_names_the_user_their_role_and_offers_sign_out(request, fixture, name, role) -> None:  # type: ignore[no-untyped-def]
    html = _html(request.getfixturevalue(fixture), "/console/queues")
    header = html.split("</header>", 1)[0]
    assert f'<span class="account__name" title="Signed in as {name}">{name}</span>' in header
    assert f'account__role--{role}" title="Role">{role}</span>' in header
    form = re.search(r'<form[^>]*action="/logout"[^>]*>.*?</form>', header, re.S)
    assert form is not None and 'method="post"' in form.group(0)
    assert 'name="csrf_token"' in form.group(0) and "Sign out" in form.group(0)
    assert "style=" not in header and "<script>" not in header


def test_header_without_a_user_shows_no_account(anon_client) -> None:  # type: ignore[no-untyped-def]
    html = anon_client.get("/login").get_data(as_text=True)
    assert 'class="account"' not in html and "Sign out" not in html


def test_header_sign_out_works_for_a_session_viewer(app, anon_client, auth_tokens) -> None:  # type: ignore[no-untyped-def]
    """Signed in through the login page (a session, CSRF on): the viewer's header form signs them out."""
    from tests.conftest import TEST_PASSWORD

    app.config["WTF_CSRF_ENABLED"] = True
    try:
        login = anon_client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', login)
        assert token is not None
        signed_in = anon_client.post("/login", data={"name": TEST_VIEWER, "password": TEST_PASSWORD,
                                                     "csrf_token": token.group(1)})
        assert signed_in.status_code == 303
        page = _html(anon_client, "/console/")
        assert f">{TEST_VIEWER}</span>" in page and ">viewer</span>" in page and _mutations(page) == []
        form_token = re.search(r'action="/logout".*?name="csrf_token"[^>]*value="([^"]+)"', page, re.S)
        assert form_token is not None
        out = anon_client.post("/logout", data={"csrf_token": form_token.group(1)})
        assert out.status_code == 303 and "/login" in out.headers["Location"]
        assert anon_client.get("/console/").status_code == 302
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
