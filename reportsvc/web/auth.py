"""Who is making the request, and may they? (issue 6)

One central policy, applied before every view (`enforce`), keyed by endpoint and method, so a route
added later is protected without a decorator:

- public (no credentials): `PUBLIC_ENDPOINTS` (health probes, the login page, static files, the
  `/` redirect, `/openapi.json`) and `/metrics` when METRICS_PUBLIC=1;
- admin: every endpoint of a blueprint in `ADMIN_BLUEPRINTS` (user and token management: the JSON
  API and the console's Users pages);
- otherwise GET/HEAD/OPTIONS need `viewer`, any other method needs `operator`.

Credentials: `Authorization: Bearer <token>` (API clients; exempt from CSRF because a browser never
sends it on its own), or the console's Flask-Login session cookie (also works for API GETs such as a
PDF download from the browser; every unsafe request on a session must carry the CSRF token).
Without credentials: 401 JSON (API paths) or a redirect to /login (console paths); a role too low:
403 JSON or the console's 403 page.

`current_actor()` is what views call for `requested_by` and the audit log.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    g,
    has_request_context,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import UserMixin, current_user, login_user, logout_user
from flask_wtf.csrf import CSRFError

from reportsvc.extensions import csrf, limiter, login_manager
from reportsvc.state import accounts, audit
from reportsvc.state.accounts import AccountError, Principal
from reportsvc.web.errors import ApiError, error_response, wants_json

log = logging.getLogger("reportsvc.web.auth")

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
PUBLIC_ENDPOINTS = frozenset({
    "health.healthz",
    "health.readyz",
    "static",
    "auth.login",
    "index",
    "openapi.spec",
})
ADMIN_BLUEPRINTS = frozenset({"accounts_api", "console_users"})
#: (endpoint, method) -> role, where the method-based default is wrong.
ROLE_OVERRIDES: dict[tuple[str, str], str] = {
    ("auth.logout", "POST"): "viewer",  # signing yourself out changes nothing but your session
}

bp = Blueprint("auth", __name__)
admin_bp = Blueprint("accounts_api", __name__)


# --------------------------------------------------------------------------- policy


def _settings() -> Any:
    return current_app.extensions["reportsvc.settings"]


def required_role(endpoint: str, method: str, *, metrics_public: bool = False) -> str | None:
    """The role an endpoint + method needs; None for the public allow-list."""
    if endpoint in PUBLIC_ENDPOINTS or (endpoint == "metrics.scrape" and metrics_public):
        return None
    if endpoint.split(".", 1)[0] in ADMIN_BLUEPRINTS:
        return "admin"
    override = ROLE_OVERRIDES.get((endpoint, method))
    if override is not None:
        return override
    return "viewer" if method in SAFE_METHODS else "operator"


def current_principal() -> Principal | None:
    """The authenticated principal of this request (bearer token first, then the session), cached."""
    if not has_request_context():
        return None
    if "principal" in g:
        return g.principal  # type: ignore[no-any-return]
    principal: Principal | None = None
    g.auth_error = None
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            g.auth_error = "invalid_request"
        else:
            principal = accounts.principal_for_token(token.strip())
            if principal is None:
                g.auth_error = "invalid_token"
    elif current_user.is_authenticated:
        principal = accounts.principal_for_user(current_user.user)
    g.principal = principal
    return principal


def current_actor() -> str:
    """A name for requested_by and the audit log: the signed-in user or the token's owner."""
    if not has_request_context():
        return "system"
    principal = current_principal()
    return principal.name if principal is not None else "anonymous"


def can(role: str) -> bool:
    """For templates: may the current user do what `role` may (hide buttons a viewer cannot use)?"""
    principal = current_principal()
    return principal is not None and principal.has(role)


def enforce() -> Any:
    """before_request: the central access policy (see the module docstring)."""
    endpoint = request.endpoint
    if endpoint is None:  # no route matched: the 404/405 handlers answer, nothing to protect
        return None
    role = required_role(endpoint, request.method, metrics_public=_settings().metrics_public)
    if role is None:
        if endpoint == "auth.login" and request.method not in SAFE_METHODS:
            _check_csrf()
        return None
    principal = current_principal()
    if principal is None:
        return _unauthenticated()
    if not principal.has(role):
        return _forbidden(principal, role)
    if principal.via == "session" and request.method not in SAFE_METHODS:
        _check_csrf()
    return None


def _check_csrf() -> None:
    if current_app.config.get("WTF_CSRF_ENABLED", True):
        csrf.protect()


def _safe_next(raw: str | None) -> str:
    """A same-site path to return to after login, never an absolute or scheme-relative URL."""
    default = "/console/"
    if not raw or not raw.startswith("/") or raw.startswith(("//", "/\\")) or len(raw) > 2000:
        return default
    parts = urlsplit(raw)
    if parts.scheme or parts.netloc or any(ord(ch) < 32 for ch in raw):
        return default
    return raw


def _unauthenticated() -> Response:
    error = getattr(g, "auth_error", None)
    if wants_json():
        message = ("the bearer token is unknown, revoked, or its account is disabled" if error == "invalid_token"
                   else "send Authorization: Bearer <token>" if error == "invalid_request"
                   else "authentication required: send Authorization: Bearer <token> (see `flask tokens create`)")
        response = error_response(401, "unauthorized", message)
        challenge = 'Bearer realm="reportsvc"' + (f', error="{error}"' if error else "")
        response.headers["WWW-Authenticate"] = challenge
        return response
    target = request.full_path.rstrip("?") if request.method == "GET" else "/console/"
    if request.headers.get("HX-Request") == "true":
        current = urlsplit(request.headers.get("HX-Current-URL", ""))
        back = current.path + (f"?{current.query}" if current.query else "") if current.path else "/console/"
        response = make_response("", 401)
        response.headers["HX-Redirect"] = url_for("auth.login", next=_safe_next(back))
        return response
    return redirect(url_for("auth.login", next=_safe_next(target)), 302)  # type: ignore[return-value]


def _forbidden(principal: Principal, role: str) -> Any:
    message = f"this needs the {role} role; {principal.name} is a {principal.role}"
    if wants_json():
        return error_response(403, "forbidden", message)
    from reportsvc.web.console import error_page

    return error_page(403, f"You are signed in as {principal.name} ({principal.role}); this needs the {role} role.",
                      "Not allowed")


# --------------------------------------------------------------------------- login / logout


def _lockout_kwargs() -> dict[str, int]:
    s = _settings()
    return {"threshold": s.login_lockout_threshold, "base_seconds": s.login_lockout_seconds,
            "max_seconds": s.login_lockout_max_seconds}


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """The console's sign-in page; POST checks the password (rate-limited, with lockout)."""
    next_url = _safe_next(request.values.get("next"))
    if request.method == "GET":
        if current_user.is_authenticated:
            return redirect(next_url, 302)
        return _login_page(next_url, None, 200)
    name = (request.form.get("name") or "").strip()[:200]
    password = request.form.get("password") or ""
    if not name or not password:
        return _login_page(next_url, "Enter your name and password.", 400, name)
    result = accounts.authenticate(name, password, **_lockout_kwargs())
    if result.user is None:
        if result.reason == "locked":
            response = _login_page(next_url, "Too many failed sign-ins for this account. Try again in "
                                   f"{max(1, (result.locked_for + 59) // 60)} minute(s).", 429, name)
            response.headers["Retry-After"] = str(result.locked_for)
            return response
        if result.reason == "disabled":
            return _login_page(next_url, "This account is disabled. Ask an admin.", 403, name)
        return _login_page(next_url, "Wrong name or password.", 401, name)
    # Session rotation: nothing from before the login (including an old CSRF token) survives it.
    session.clear()
    login_user(SessionUser(result.user))
    session.permanent = True
    g.pop("principal", None)
    return redirect(next_url, 303)


def _login_page(next_url: str, error: str | None, status: int, name: str = "") -> Response:
    response = make_response(render_template("console/auth/login.html", next_url=next_url, error=error,
                                             name=name), status)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/logout", methods=["GET", "POST"])
def logout() -> Any:
    """GET asks to confirm (a link cannot sign you out); POST signs out and clears the session."""
    if request.method == "GET":
        return render_template("console/auth/logout.html")
    logout_user()
    session.clear()
    return redirect(url_for("auth.login", signed_out=1), 303)


class SessionUser(UserMixin):
    """What Flask-Login keeps: the account, identified in the session by id + auth_epoch."""

    def __init__(self, user: Any) -> None:
        self.user = user

    def get_id(self) -> str:
        return accounts.session_id(self.user)


@login_manager.user_loader
def _load_user(session_ident: str) -> Any:
    user = accounts.user_for_session(session_ident)
    return SessionUser(user) if user is not None else None


# --------------------------------------------------------------------------- admin JSON API


def _body() -> dict[str, Any]:
    from reportsvc.web.api import read_json_body

    body = read_json_body()
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise ApiError(422, "invalid_input", "body: must be a JSON object",
                       details=[{"field": "body", "message": "must be a JSON object"}])
    return body


def _field(body: dict[str, Any], name: str, *, required: bool = True) -> Any:
    value = body.get(name)
    if value is None:
        if required:
            raise _invalid(name, "is required")
        return None
    if not isinstance(value, str):
        raise _invalid(name, "must be a string")
    return value


def _invalid(field: str, message: str) -> ApiError:
    return ApiError(422, "invalid_input", f"{field}: {message}", details=[{"field": field, "message": message}])


def _account_error(exc: AccountError) -> ApiError:
    conflict = isinstance(exc, accounts.AccountConflict) or "already exists" in str(exc)
    status = 404 if str(exc).startswith("no ") else 409 if conflict else 422
    code = {404: "not_found", 409: "conflict"}.get(status, "invalid_input")
    return ApiError(status, code, f"{exc.field}: {exc}", details=[{"field": exc.field, "message": str(exc)}])


@bp.get("/me")
def me() -> Response:
    """Who the credentials belong to (any role)."""
    principal = current_principal()
    assert principal is not None
    return jsonify({"name": principal.name, "role": principal.role, "via": principal.via})


@admin_bp.get("/users")
def list_users() -> Response:
    """Every account (admin)."""
    return jsonify({"items": [u.to_dict() for u in accounts.list_users()]})


@admin_bp.post("/users")
def create_user() -> Response:
    """Create an account: {"name", "role", "password"?}; without a password one is generated and returned once."""
    body = _body()
    unknown = sorted(set(body) - {"name", "role", "password"})
    if unknown:
        raise _invalid(unknown[0], "unknown field; expected name, role, password")
    name, role = _field(body, "name"), _field(body, "role")
    password = _field(body, "password", required=False)
    generated = accounts.generate_password() if password is None else None
    try:
        user = accounts.create_user(name, role, password if generated is None else generated)
    except AccountError as exc:
        raise _account_error(exc) from None
    audit.record(current_actor(), "user.create", f"user:{user.name}", "ok", {"role": user.role})
    out = user.to_dict()
    if generated is not None:
        out["password"] = generated  # shown once
    response = jsonify(out)
    response.status_code = 201
    return response


@admin_bp.post("/users/<name>/disable")
def disable_user(name: str) -> Response:
    """Disable an account: its sessions end and its tokens stop working at once (admin)."""
    return _set_disabled(name, True)


@admin_bp.post("/users/<name>/enable")
def enable_user(name: str) -> Response:
    """Re-enable an account (its old sessions stay ended) (admin)."""
    return _set_disabled(name, False)


def _set_disabled(name: str, disabled: bool) -> Response:
    try:
        # accounts refuses disabling yourself or the last enabled admin (409), for the console and CLI alike.
        user = accounts.set_disabled(name, disabled, actor=current_actor())
    except AccountError as exc:
        if isinstance(exc, accounts.AccountConflict):  # a guard's refusal is an action attempted: audited
            audit.record(current_actor(), "user.disable" if disabled else "user.enable", f"user:{name}",
                         "refused", {"reason": str(exc), "via": "api"})
        raise _account_error(exc) from None
    audit.record(current_actor(), "user.disable" if disabled else "user.enable", f"user:{name}", "ok")
    return jsonify(user.to_dict())


@admin_bp.get("/tokens")
def list_tokens() -> Response:
    """Token metadata (never the tokens), optionally ?user=NAME (admin)."""
    user = request.args.get("user") or None
    if user is not None and len(user) > 64:
        raise ApiError(400, "invalid_filter", "user: at most 64 characters")
    return jsonify({"items": [row.to_dict(owner) for row, owner in accounts.list_tokens(user)]})


@admin_bp.post("/tokens")
def create_token() -> Response:
    """Create a token for {"user", "label"?}; the token is in this response only (admin)."""
    body = _body()
    unknown = sorted(set(body) - {"user", "label"})
    if unknown:
        raise _invalid(unknown[0], "unknown field; expected user, label")
    try:
        row, token = accounts.create_token(_field(body, "user"), _field(body, "label", required=False))
    except AccountError as exc:
        raise _account_error(exc) from None
    owner = body["user"]
    audit.record(current_actor(), "token.create", f"user:{owner}", "ok", {"token_id": row.id, "prefix": row.prefix})
    out = row.to_dict(owner)
    out["token"] = token
    response = jsonify(out)
    response.status_code = 201
    response.headers["Cache-Control"] = "no-store"
    return response


@admin_bp.post("/tokens/<token_id>/revoke")
def revoke_token(token_id: str) -> Response:
    """Revoke a token by id (admin); repeating it is 200."""
    if not token_id.isdigit() or len(token_id) > 18:
        raise ApiError(400, "invalid_id", "token ids are whole numbers (see GET /tokens)")
    try:
        row = accounts.revoke_token(int(token_id))
    except AccountError as exc:
        raise ApiError(404, "not_found", str(exc)) from None
    audit.record(current_actor(), "token.revoke", f"token:{row.id}", "ok", {"prefix": row.prefix})
    return jsonify(row.to_dict())


# --------------------------------------------------------------------------- wiring


def _csrf_error(err: CSRFError) -> Any:
    message = "The form's security token is missing or expired. Reload the page and try again."
    if request.endpoint == "auth.login":
        return _login_page(_safe_next(request.values.get("next")), message, 400)
    if wants_json():
        return error_response(400, "csrf_failed", "missing or invalid CSRF token (send X-CSRFToken, or use a "
                              "bearer token for API calls)")
    from reportsvc.web.console import error_page

    return error_page(400, message, "Security token expired")


def _rate_limited(err: Any) -> Any:
    if wants_json() or request.endpoint != "auth.login":
        if wants_json():
            response = error_response(429, "rate_limited", f"too many requests: limit {err.description}; "
                                      "retry after the Retry-After seconds")
        else:
            from reportsvc.web.console import error_page

            response = make_response(error_page(429, f"Too many requests ({err.description}). "
                                                "Wait a moment and try again.", "Slow down"))
    else:
        response = _login_page(_safe_next(request.values.get("next")),
                               "Too many sign-in attempts. Wait a minute and try again.", 429)
    response.headers["Retry-After"] = str(_retry_after(err))
    return response


def _retry_after(err: Any) -> int:
    """Seconds until the breached limit's window resets (read only on a refusal: X-RateLimit-* headers
    are off, so a request under its limit costs one Redis INCR and nothing more)."""
    import time

    retry_after = getattr(err, "retry_after", None)
    if retry_after is not None:
        return max(1, int(retry_after))
    limit = getattr(err, "limit", None)
    window = int(getattr(getattr(limit, "limit", None), "get_expiry", lambda: 60)())
    try:
        current = limiter.current_limit
        if current is not None and current.breached:
            return max(1, min(window, int(current.reset_at - time.time()) + 1))
    except Exception:  # storage trouble: the window length is a safe upper bound
        pass
    return max(1, window)


def _create_key() -> str:
    return "user:" + current_actor()


def _login_account_key() -> str:
    return "account:" + (request.form.get("name") or "").strip().lower()[:64]


def _wrap_limits(app: Flask) -> None:
    """Attach Flask-Limiter limits to the views that need them, by endpoint (after registration)."""
    def settings() -> Any:  # re-read on every request: tests (and only tests) swap settings
        return app.extensions["reportsvc.settings"]

    plan: dict[str, list[tuple[Callable[[], str], Callable[[], str] | None, str]]] = {
        "api.create_report": [(lambda: settings().rate_limit_report_create, _create_key, "create")],
        "console.create": [(lambda: settings().rate_limit_report_create, _create_key, "create")],
        "auth.login": [(lambda: settings().rate_limit_login_ip, None, "login-ip"),
                       (lambda: settings().rate_limit_login_account, _login_account_key, "login-account")],
    }
    for endpoint, limits in plan.items():
        view: Any = app.view_functions.get(endpoint)
        if view is None:
            log.warning("rate limit for %s not attached: no such endpoint", endpoint)
            continue
        for provider, key_func, scope in limits:
            methods = ["POST"]
            view = limiter.shared_limit(provider, scope=scope, key_func=key_func, methods=methods)(view)
        app.view_functions[endpoint] = view


def _ensure_secret_key(app: Flask) -> None:
    """Without SECRET_KEY, use a random per-install key kept in instance/secret_key (shared by every web
    process on this host; set SECRET_KEY for several hosts). config.py refuses a weak SECRET_KEY."""
    if app.config.get("SECRET_KEY"):
        return
    import contextlib
    import os
    import secrets
    from pathlib import Path

    path = Path(app.instance_path) / "secret_key"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write a complete temp file, then link it into place: a process starting at the same moment sees
        # either no key file or the whole key, never an empty one, so all processes sign alike.
        tmp = path.with_name(f".secret_key.{os.getpid()}")
        tmp.write_text(secrets.token_hex(32))
        tmp.chmod(0o600)
        try:
            with contextlib.suppress(FileExistsError):  # another process won: use its key
                os.link(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        key = path.read_text().strip()
    except OSError as exc:
        log.warning("SECRET_KEY is not set and %s cannot be written (%s); using a key for this process only",
                    path, exc)
        key = ""
    app.config["SECRET_KEY"] = key or secrets.token_hex(32)


def init_app(app: Flask) -> None:
    """Register login/logout and the admin API, the policy (first before_request), limits and handlers."""
    from reportsvc.web import openapi, security

    _ensure_secret_key(app)
    login_manager.login_view = "auth.login"
    login_manager.session_protection = "basic"
    app.register_blueprint(bp)
    app.register_blueprint(admin_bp)
    openapi.init_app(app)
    # The policy runs before every other before_request hook (present or added later).
    app.before_request_funcs.setdefault(None, []).insert(0, enforce)
    security.init_app(app)
    app.register_error_handler(CSRFError, _csrf_error)
    from flask_limiter.errors import RateLimitExceeded

    app.register_error_handler(RateLimitExceeded, _rate_limited)
    _wrap_limits(app)
    app.jinja_env.globals.update(can=can, current_principal=current_principal)
