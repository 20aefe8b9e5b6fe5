"""A body the app answered without reading (a refusal before the view) is read off the connection afterwards,
so a keep-alive client's next request is not misread (reportsvc.web.body_drain)."""

from __future__ import annotations

from typing import Any

from werkzeug.test import EnvironBuilder


def _call(app: Any, environ: dict[str, Any]) -> str:
    status: list[str] = []
    body = b"".join(app(environ, lambda s, h, e=None: status.append(s)))
    assert body is not None
    return status[0]


def test_an_unauthenticated_post_has_its_unread_body_drained(app):
    environ = EnvironBuilder(path="/reports", method="POST", data=b'{"title": "never read"}' * 50,
                             content_type="application/json").get_environ()
    stream = environ["wsgi.input"]
    assert _call(app, environ).startswith("401")  # refused by the access policy before any view read it
    assert stream.read() == b""
