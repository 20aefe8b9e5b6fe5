"""A body the app answered without reading (a refusal before the view) is read off the connection afterwards,
so a keep-alive client's next request is not misread (reportsvc.web.body_drain)."""

from __future__ import annotations

import io
from typing import Any

from werkzeug.test import EnvironBuilder

NEXT_REQUEST = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"


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


def test_the_drain_stops_at_content_length_on_a_raw_connection(app, auth_tokens):
    """Werkzeug's development server hands the app its socket: the drain must not read (or wait for) the
    client's next request, whether the view read the body (a create) or not (a refusal)."""
    for headers, expected in (({}, "401"), ({"Authorization": f"Bearer {auth_tokens.token('test-operator')}"}, "202")):
        body = b'{"title": "raw"}'
        environ = EnvironBuilder(path="/reports", method="POST", data=body, content_type="application/json",
                                 headers=headers).get_environ()
        environ["wsgi.input"] = raw = io.BytesIO(body + NEXT_REQUEST)  # the socket: the next request follows
        assert _call(app, environ).startswith(expected)
        assert raw.read() == NEXT_REQUEST
