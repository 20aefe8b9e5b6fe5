"""A body over MAX_CONTENT_LENGTH is a 413 however it is sent, chunked (no Content-Length) included."""

from __future__ import annotations

import io

from sqlalchemy import func, select


def _count(app) -> int:  # type: ignore[no-untyped-def]
    from reportsvc.extensions import db
    from reportsvc.state.models import ReportRequest

    with app.app_context():
        return int(db.session.execute(select(func.count()).select_from(ReportRequest)).scalar_one())


def _chunked(client, body: bytes):  # type: ignore[no-untyped-def]
    return client.post("/reports", input_stream=io.BytesIO(body),
                       headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
                       environ_overrides={"wsgi.input_terminated": True})


def test_a_chunked_body_over_the_limit_is_413_not_invalid_json(app, client):
    before = _count(app)
    r = _chunked(client, b'{"title": "' + b"x" * 70_000 + b'"}')
    assert r.status_code == 413, r.get_data(as_text=True)
    assert r.get_json()["error"]["code"] == "payload_too_large"
    assert _count(app) == before


def test_a_chunked_body_under_the_limit_is_read_whole(app, client):
    r = _chunked(client, b'{"title": "' + b"y" * 150 + b'", "params": {"window_hours": 24}}' + b" " * 30_000)
    assert r.status_code == 202, r.get_data(as_text=True)
    assert client.get(f"/reports/{r.get_json()['id']}").get_json()["title"] == "y" * 150
