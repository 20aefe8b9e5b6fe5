"""Console mutations through Flask's test client: the generate form, cancel, retry, download, refusals."""

from __future__ import annotations

import re

from tests.conftest import wait_status
from tests.pdf import read_pdf

HX = {"HX-Request": "true"}


def _count(app) -> int:  # type: ignore[no-untyped-def]
    from sqlalchemy import func, select

    from reportsvc.extensions import db
    from reportsvc.state.models import ReportRequest

    with app.app_context():
        return int(db.session.execute(select(func.count()).select_from(ReportRequest)).scalar_one())


def test_form_errors_show_inline_and_queue_nothing(app, client) -> None:  # type: ignore[no-untyped-def]
    data = {"report_type": "operations", "title": "x", "window_hours": "99999", "notify_email": "not-an-email"}
    response = client.post("/console/reports", data=data, headers=HX)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith('<form id="generate-form"')
    # the shared validator checks the envelope first, then the report type's params
    assert re.search(r'id="notify_email"[^>]*aria-invalid="true"', html)
    assert 'id="notify_email-error"' in html and "valid email" in html
    assert 'value="not-an-email"' in html  # what the user typed is kept
    assert _count(app) == 0
    # without JS: the whole page, form open, same errors, same status
    page = client.post("/console/reports", data=data)
    assert page.status_code == 422 and "<html" in page.get_data(as_text=True)
    assert 'id="notify_email-error"' in page.get_data(as_text=True)
    params = client.post("/console/reports", data={**data, "notify_email": ""}, headers=HX)
    assert params.status_code == 422
    assert re.search(r'id="window_hours"[^>]*aria-invalid="true"', params.get_data(as_text=True))
    assert _count(app) == 0


def test_form_and_api_validate_identically(client) -> None:  # type: ignore[no-untyped-def]
    api = client.post("/reports", json={"report_type": "nope"})
    form = client.post("/console/reports", data={"report_type": "nope"}, headers=HX)
    assert api.status_code == 422 and form.status_code == 422
    api_message = api.get_json()["error"]["details"][0]["message"]
    assert api_message in form.get_data(as_text=True)


def test_generate_from_form_htmx(app, client, worker) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/console/reports", headers=HX,
                           data={"report_type": "operations", "title": "From the form", "window_hours": "6"})
    assert response.status_code == 201
    assert response.headers["HX-Trigger"] == "reportCreated"
    html = response.get_data(as_text=True)
    assert '<div id="flashes"' in html and 'hx-swap-oob="true"' in html and "queued" in html
    assert 'value="From the form"' not in html  # the form comes back blank
    listing = client.get("/reports").get_json()["items"]
    assert listing[0]["title"] == "From the form" and listing[0]["params"]["window_hours"] == 6
    wait_status(client, listing[0]["id"], {"READY"})


def test_generate_without_js_redirects_with_flash(client) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/console/reports", data={"report_type": "operations", "title": "No JS"})
    assert response.status_code == 303 and response.headers["Location"].endswith("/console/")
    page = client.get("/console/").get_data(as_text=True)
    assert "flash--success" in page and "No JS" in page


def test_cancel_pending_row_in_place(app, client) -> None:  # type: ignore[no-untyped-def]
    rid = client.post("/reports", json={"title": "to cancel"}).get_json()["id"]
    response = client.post(f"/console/reports/{rid}/cancel", data={"view": "row"}, headers=HX)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith(f'<tr id="row-{rid}"') and 'data-status="CANCELLED"' in html
    assert "data-live" not in html.split(">", 1)[0]
    assert "cancelled" in html and "flash--success" in html
    assert client.get(f"/reports/{rid}/status").get_json()["status"] == "CANCELLED"


def test_refused_cancel_says_why(app, client) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import update

    from reportsvc.extensions import db
    from reportsvc.state.models import ReportRequest

    rid = client.post("/reports", json={"title": "finished already"}).get_json()["id"]
    with app.app_context():  # a worker finished it between page render and click
        db.session.execute(update(ReportRequest).where(ReportRequest.id == rid).values(status="READY"))
        db.session.commit()
    response = client.post(f"/console/reports/{rid}/cancel", data={"view": "detail"}, headers=HX)
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith('<div id="report-detail"') and 'data-status="READY"' in html
    assert "flash--error" in html and "it is READY now" in html


def test_cancel_of_a_running_report_shows_cancelling_until_it_lands(app, client) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import update

    from reportsvc.extensions import db
    from reportsvc.state.models import ReportRequest

    rid = client.post("/reports", json={"title": "long one"}).get_json()["id"]
    with app.app_context():  # a worker holds it
        db.session.execute(update(ReportRequest).where(ReportRequest.id == rid).values(status="RUNNING"))
        db.session.commit()
    response = client.post(f"/console/reports/{rid}/cancel", data={"view": "detail"}, headers=HX)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'data-status="RUNNING"' in html and f'id="cancelling-detail-{rid}"' in html
    assert f'id="cancel-detail-{rid}"' not in html and "flash--success" in html and "Cancelling" in html
    row = client.get("/console/").get_data(as_text=True)
    assert f'id="cancelling-row-{rid}"' in row


def test_retry_failed_from_detail(app, client, worker, settings) -> None:  # type: ignore[no-untyped-def]
    settings(retry_delays_ms=(100, 200, 300))
    rid = client.post("/reports", json={"title": "flaky", "params": {"simulate": {"fail_times": 4}}}).get_json()["id"]
    wait_status(client, rid, {"FAILED"})
    detail = client.get(f"/console/reports/{rid}").get_data(as_text=True)
    assert f"/console/reports/{rid}/retry" in detail and "Attempt failed" in detail
    response = client.post(f"/console/reports/{rid}/retry", data={"view": "detail"}, headers=HX)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "queued again" in html and re.search(r'id="report-detail" data-status="(PENDING|RUNNING)"', html)
    wait_status(client, rid, {"READY"})  # fail_times=4 were used up by the first run
    again = client.post(f"/console/reports/{rid}/retry", data={"view": "detail"}, headers=HX)
    assert again.status_code == 409 and "only FAILED reports can be retried" in again.get_data(as_text=True)


def test_action_without_js_redirects_back(client) -> None:  # type: ignore[no-untyped-def]
    rid = client.post("/reports", json={"title": "nojs cancel"}).get_json()["id"]
    response = client.post(f"/console/reports/{rid}/cancel", data={"view": "row", "next": "/console/?status=PENDING"})
    assert response.status_code == 303 and response.headers["Location"].endswith("/console/?status=PENDING")
    evil = client.post(f"/console/reports/{rid}/cancel", data={"next": "https://evil.example/"})
    assert evil.headers["Location"].endswith(f"/console/reports/{rid}")


def test_download_ready_and_not_ready(client, make_worker) -> None:  # type: ignore[no-untyped-def]
    rid = client.post("/reports", json={"title": "pdf"}).get_json()["id"]
    early = client.get(f"/console/reports/{rid}/download")  # no worker yet: certainly not READY
    assert early.status_code == 409 and "only READY reports" in early.get_data(as_text=True)
    make_worker()
    wait_status(client, rid, {"READY"})
    response = client.get(f"/console/reports/{rid}/download")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    pages, text = read_pdf(response.data)
    assert pages >= 1 and "pdf" in text.splitlines()[0]  # the report's own title heads page 1
    assert f"report-{rid}.pdf" in response.headers["Content-Disposition"]


def test_detail_shows_message_location(client) -> None:  # type: ignore[no-untyped-def]
    rid = client.post("/reports", json={"title": "waiting"}).get_json()["id"]
    html = client.get(f"/console/reports/{rid}").get_data(as_text=True)
    # no worker running: the message waits at the head of the queue
    assert 'data-place="waiting"' in html and "next to run" in html
    assert 'href="/console/queues/reports/waiting"' in html
