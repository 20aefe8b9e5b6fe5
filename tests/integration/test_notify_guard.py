"""notify_email is no open relay: NOTIFY_EMAIL_DOMAINS (422 naming the field), a per-account limit on
distinct recipients per hour (429), and a title with CR/LF never becomes a header of the email."""

from __future__ import annotations

import dataclasses
import uuid
from email import message_from_string
from types import SimpleNamespace

from sqlalchemy import func, select


def _count(app) -> int:  # type: ignore[no-untyped-def]
    from reportsvc.extensions import db
    from reportsvc.state.models import ReportRequest

    with app.app_context():
        return int(db.session.execute(select(func.count()).select_from(ReportRequest)).scalar_one())


def _guard(app, settings, **changes):  # type: ignore[no-untyped-def]
    settings(guard=dataclasses.replace(app.extensions["reportsvc.settings"].guard, **changes))


def test_an_address_outside_notify_email_domains_is_422_naming_the_field(app, client, settings):
    _guard(app, settings, notify_email_domains=("example.com", "ops.example.org"))
    before = _count(app)
    r = client.post("/reports", json={"notify_email": "victim@elsewhere.test"})
    assert r.status_code == 422
    assert r.get_json()["error"]["details"][0]["field"] == "notify_email"
    assert _count(app) == before
    assert client.post("/reports", json={"notify_email": "alice@Example.com"}).status_code == 202
    assert client.post("/reports", json={"notify_email": "bob@ops.example.org"}).status_code == 202
    form = client.post("/console/reports", data={"report_type": "operations", "notify_email": "x@elsewhere.test",
                                                 "window_hours": "24"}, headers={"HX-Request": "true"})
    assert form.status_code == 422 and "example.com" in form.get_data(as_text=True)
    assert _count(app) == before + 2


def test_distinct_recipients_per_account_per_hour_are_limited(app, client, admin_client, settings):
    _guard(app, settings, notify_recipients_per_hour=3)
    codes = [client.post("/reports", json={"notify_email": f"r{i}@example.com"}).status_code for i in range(4)]
    assert codes == [202, 202, 202, 429]
    refused = client.post("/reports", json={"notify_email": "r9@example.com"})
    assert refused.get_json()["error"]["details"][0]["field"] == "notify_email"
    assert int(refused.headers["Retry-After"]) > 0
    assert client.post("/reports", json={"notify_email": "R1@example.com"}).status_code == 202  # one already used
    assert client.post("/reports", json={}).status_code == 202  # no email: not limited
    assert admin_client.post("/reports", json={"notify_email": "r9@example.com"}).status_code == 202  # per account


def test_a_title_with_cr_lf_is_refused_at_create_and_never_becomes_a_header(app, client):
    r = client.post("/reports", json={"title": "Weekly\r\nBcc: everyone@elsewhere.test",
                                      "notify_email": "a@example.com"})
    assert r.status_code == 422 and r.get_json()["error"]["details"][0]["field"] == "title"
    from reportsvc.worker.mail_message import ReadyMessage
    from reportsvc.worker.notify import compose

    # A row written some other way (an older version, a migration): the email still quotes it as data.
    report = SimpleNamespace(title="Weekly\r\nBcc: everyone@elsewhere.test\n\nfake body", report_type="operations",
                             id=uuid.uuid4())
    subject, body = compose(report, "http://reports.test")  # type: ignore[arg-type]
    assert "\r" not in subject and "\n" not in subject
    with app.app_context():
        mail = message_from_string(ReadyMessage(subject=subject, body=body, sender="svc@example.com",
                                                recipients=["a@example.com"]).as_string())
    assert mail["Bcc"] is None and "Bcc: everyone@elsewhere.test" in mail["Subject"]
    assert "\nBcc:" not in body and '"Weekly Bcc: everyone@elsewhere.test fake body"' in body
