"""The console's session cookie: which requests may write it.

A HEAD or OPTIONS request changes nothing, the session included: it neither sets a cookie (a CSRF token
minted while rendering a page, a sign-in) nor clears one (a sign-out). Only the methods that may change
state save the session.
"""

from __future__ import annotations

from flask import Flask, Response, request
from flask.sessions import SecureCookieSessionInterface, SessionMixin

READ_ONLY_METHODS = frozenset({"HEAD", "OPTIONS"})


class SessionCookies(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, never saved on a HEAD or OPTIONS request."""

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        """Save as Flask does, except on read-only methods."""
        if request.method in READ_ONLY_METHODS:
            return
        super().save_session(app, session, response)


def init_app(app: Flask) -> None:
    """Install the session interface."""
    app.session_interface = SessionCookies()
