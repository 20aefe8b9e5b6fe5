"""Read what a request's body still holds once the app has answered, so the keep-alive connection stays usable.

A view, or the access policy before it, may answer without reading the body: a 401, 403, 404 or 429 to a
POST. gunicorn discards such leftovers itself; granian, the deployment's server (README "Performance"), does
not, and then about one keep-alive connection in 400 broke on the client's next request (measured with
hello-world POSTs that never read their body). Reading the rest here, at most MAX_CONTENT_LENGTH bytes, keeps
client and server in step; a larger body was refused with 413 and its connection is closed by the server.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any


class DrainUnreadBody:
    """WSGI wrapper: after the app returns its response, read and drop any body it left unread."""

    def __init__(self, inner: Callable[..., Iterable[bytes]], limit: Callable[[], int | None]) -> None:
        self.inner = inner
        self.limit = limit

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        """Run the app, then drain the request body (a no-op when the app read it all)."""
        result = self.inner(environ, start_response)
        if environ.get("CONTENT_LENGTH", "0") not in ("", "0") or environ.get("HTTP_TRANSFER_ENCODING"):
            stream = environ.get("wsgi.input")
            try:
                if stream is not None:
                    stream.read(self.limit() or 64 * 1024)
            except Exception:  # a client gone mid-body: nothing left to keep in step
                pass
        return result
