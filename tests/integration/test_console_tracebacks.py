"""The console's timeline shows an attempt's traceback to operators and admins only; a viewer sees the error
message (as the API gives everyone)."""

from __future__ import annotations

import json
import uuid

from sqlalchemy import text

SECRET_FRAME = 'File "/srv/reportsvc/worker/generate.py", line 99, in render_secret_path'


def _failed_report(app) -> str:  # type: ignore[no-untyped-def]
    from reportsvc.extensions import db

    rid = str(uuid.uuid4())
    with app.app_context():
        db.session.execute(text("INSERT INTO report_requests (id, status, progress, error_message, attempts) "
                                "VALUES (:id, 'FAILED', 0, 'boom', 4)"), {"id": rid})
        db.session.execute(text("INSERT INTO report_events (report_id, kind, message, detail) "
                                "VALUES (:id, 'attempt_failed', 'attempt 1 failed', CAST(:d AS jsonb))"),
                           {"id": rid, "d": json.dumps({"error": "ValueError: boom",
                                                        "traceback": f"Traceback:\n  {SECRET_FRAME}\n"})})
        db.session.commit()
    return rid


def test_a_viewer_sees_the_error_but_not_the_traceback(app, viewer_client):
    page = viewer_client.get(f"/console/reports/{_failed_report(app)}").get_data(as_text=True)
    assert "ValueError: boom" in page
    assert "render_secret_path" not in page and "Traceback" not in page


def test_operators_and_admins_see_the_traceback(app, client, admin_client):
    rid = _failed_report(app)
    for who in (client, admin_client):
        page = who.get(f"/console/reports/{rid}").get_data(as_text=True)
        assert "render_secret_path" in page
