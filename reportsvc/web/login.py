"""Signing in and out of the console (blueprint "auth": /login, /logout) and `GET /me`.

The password check, its lockout and the account state are accounts.py's; this module turns them into pages
and a Flask-Login session. Flask-Login keeps `SessionUser`, loaded here by id + auth_epoch.
"""

from __future__ import annotations

import time
from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    g,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import UserMixin, current_user, login_user, logout_user

from reportsvc.extensions import login_manager
from reportsvc.state import accounts, audit
from reportsvc.state import login as login_state
from reportsvc.web.access import current_principal, safe_next

bp = Blueprint("auth", __name__)
#: Session key of the sign-in time (epoch seconds); SESSION_LIFETIME_HOURS counts from it.
SIGNED_IN_AT = "signed_in_at"


def _lockout_kwargs() -> dict[str, Any]:
    s = current_app.extensions["reportsvc.settings"]
    return {"threshold": s.login_lockout_threshold, "base_seconds": s.login_lockout_seconds,
            "max_seconds": s.login_lockout_max_seconds, "slowdown_threshold": s.guard.login_slowdown_threshold,
            "slowdown_seconds": s.guard.login_slowdown_seconds}


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """The console's sign-in page; only POST checks the password (rate-limited, with lockout)."""
    next_url = safe_next(request.values.get("next"))
    if request.method != "POST":  # GET and the HEAD Flask adds to it: show the page, never sign in
        if current_user.is_authenticated:
            return redirect(next_url, 302)
        return login_page(next_url, None, 200)
    name = (request.form.get("name") or "").strip()[:200]
    password = request.form.get("password") or ""
    if not name or not password:
        return login_page(next_url, "Enter your name and password.", 400, name)
    result = login_state.authenticate(name, password, client=request.remote_addr or "unknown", **_lockout_kwargs())
    if result.user is None:
        # Locked, disabled and wrong answer alike (and take alike: one hash check each), so a guesser learns
        # nothing about the account; the lock holds only this client address.
        return login_page(next_url, "Wrong name or password.", 401, name)
    # Session rotation: nothing from before the login (including an old CSRF token) survives it.
    session.clear()
    login_user(SessionUser(result.user))
    session.permanent = True
    # The absolute lifetime counts from here, however active the session stays (see _load_user).
    session[SIGNED_IN_AT] = int(time.time())
    g.pop("principal", None)
    return redirect(next_url, 303)


def login_page(next_url: str, error: str | None, status: int, name: str = "") -> Response:
    """The sign-in page with an optional error, never cached."""
    response = make_response(render_template("console/auth/login.html", next_url=next_url, error=error,
                                             name=name), status)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/logout", methods=["GET", "POST"])
def logout() -> Any:
    """GET asks to confirm (a link cannot sign you out); only POST signs out and clears the session."""
    if request.method != "POST":
        return render_template("console/auth/logout.html")
    logout_user()
    session.clear()
    return redirect(url_for("auth.login", signed_out=1), 303)


class SessionUser(UserMixin):
    """What Flask-Login keeps: the account, identified in the session by id + auth_epoch."""

    def __init__(self, user: Any) -> None:
        self.user = user

    def get_id(self) -> str:
        return login_state.session_id(self.user)


@login_manager.user_loader
def _load_user(session_ident: str) -> Any:
    started = session.get(SIGNED_IN_AT)
    lifetime = current_app.extensions["reportsvc.settings"].session_lifetime_hours * 3600
    if not isinstance(started, int) or not 0 <= time.time() - started <= lifetime:
        return None  # signed in too long ago (or before sign-in times were kept): sign in again
    user = login_state.user_for_session(session_ident)
    return SessionUser(user) if user is not None else None


@bp.post("/logout/everywhere")
def logout_everywhere() -> Any:
    """End every console session of the signed-in account (this one included); its API tokens stay."""
    principal = current_principal()
    assert principal is not None
    accounts.end_sessions(principal.name)
    audit.record(principal.name, "user.end_sessions", f"user:{principal.name}", "ok", {"via": "console"})
    logout_user()
    session.clear()
    return redirect(url_for("auth.login", signed_out=1), 303)


@bp.get("/me")
def me() -> Response:
    """Who the credentials belong to (any role)."""
    principal = current_principal()
    assert principal is not None
    return jsonify({"name": principal.name, "role": principal.role, "via": principal.via})
