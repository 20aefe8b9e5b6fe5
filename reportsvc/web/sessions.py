"""The console's session cookie: which requests may write it, and who the client is behind proxies.

A HEAD or OPTIONS request changes nothing, the session included: it neither sets a cookie (a CSRF token
minted while rendering a page, a sign-in) nor clears one (a sign-out). Only the methods that may change
state save the session.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask, Response, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface, SessionMixin
from werkzeug.middleware.proxy_fix import ProxyFix

READ_ONLY_METHODS = frozenset({"HEAD", "OPTIONS"})


class SessionCookies(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, never saved on a HEAD or OPTIONS request."""

    def open_session(self, app: Flask, request: Any) -> SecureCookieSession | None:
        """As Flask does, but a request without the cookie (every API call) gets its empty session without
        building the signing serializer first (a measurable share of a `POST /reports`)."""
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        """Save as Flask does, except on read-only methods."""
        if request.method in READ_ONLY_METHODS:
            return
        if not session and not session.modified:  # nothing to write or delete (every API call)
            if session.accessed:  # as Flask does (Flask-Login looks at every session)
                response.vary.add("Cookie")
            return
        super().save_session(app, session, response)


class TrustedProxies:
    """Believe X-Forwarded-For/-Proto/-Host from TRUSTED_PROXY_COUNT reverse proxies, no more: the client
    address the limits and the lockout key on, and https for HSTS, come from them. Read per request (the
    settings object can be swapped), with one Werkzeug ProxyFix per hop count."""

    def __init__(self, app: Flask) -> None:
        self.app, self.inner = app, app.wsgi_app
        self.fixes: dict[int, ProxyFix] = {}

    def __call__(self, environ: Any, start_response: Any) -> Any:
        """Hand the request to ProxyFix for the configured hops, or straight to the app for none."""
        hops = self.app.extensions["reportsvc.settings"].guard.trusted_proxy_count
        if hops <= 0:
            return self.inner(environ, start_response)
        fix = self.fixes.get(hops)
        if fix is None:
            fix = self.fixes[hops] = ProxyFix(self.inner, x_for=hops, x_proto=hops, x_host=hops)
        return fix(environ, start_response)


def wrap_inner(app: Flask, wrapper: Callable[[Any], Any]) -> None:
    """Put `wrapper(app behind the proxies)` behind the proxies: it sees the environ as the proxy fix left it."""
    proxies = app.wsgi_app
    assert isinstance(proxies, TrustedProxies), "sessions.init_app installs TrustedProxies first"
    proxies.inner = wrapper(proxies.inner)
    proxies.fixes.clear()  # each ProxyFix wraps the inner app as it was when made


def init_app(app: Flask) -> None:
    """Install the session interface, behind the trusted proxies."""
    app.session_interface = SessionCookies()
    app.wsgi_app = TrustedProxies(app)  # type: ignore[method-assign]
