"""Read what a request's body still holds once the app has answered, so the keep-alive connection stays usable.

A view, or the access policy before it, may answer without reading the body: a 401, 403, 404 or 429 to a
POST. gunicorn discards such leftovers itself; granian, the deployment's server (README "Performance"), does
not, and then about one keep-alive connection in 400 broke on the client's next request (measured with
hello-world POSTs that never read their body). `drain_body` reads the rest through Werkzeug's request
stream, which stops at Content-Length: never a byte of the next request, and never a wait on a server that
hands the app its raw socket (Werkzeug's development server, `make run`). A body over MAX_CONTENT_LENGTH was
refused with 413 and is left to the server, which closes that connection.
"""

from __future__ import annotations

import contextlib

from flask import Flask, request
from werkzeug.exceptions import RequestEntityTooLarge


def drain_body(exc: BaseException | None = None) -> None:
    """teardown_request: read and drop what the body still holds (nothing, when the view read it all)."""
    # No Content-Length and not chunked: no body (every GET; granian marks every input terminated, so that
    # flag alone would send each GET through the stream for nothing).
    if not request.content_length and "chunked" not in request.environ.get("HTTP_TRANSFER_ENCODING", "").lower():
        return
    try:
        stream = request.stream  # the one the view read from, if it did: it knows what is left
    except RequestEntityTooLarge:
        return
    exhaust = getattr(stream, "exhaust", None)
    if exhaust is None:
        return
    with contextlib.suppress(Exception):  # a client gone mid-body: nothing left to keep in step
        exhaust()


def init_app(app: Flask) -> None:
    """Drain every request's unread body after its response."""
    app.teardown_request(drain_body)
