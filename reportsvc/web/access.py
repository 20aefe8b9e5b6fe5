"""The access policy: who is making the request, and may they? (issue 6)

One central policy, applied before every view (`enforce`, installed first by auth.init_app), keyed by
endpoint and method, so a route added later is protected without a decorator:

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

from typing import Any
from urllib.parse import urlsplit

from flask import Response, current_app, g, has_request_context, make_response, redirect, request, url_for
from flask_login import current_user

from reportsvc.extensions import csrf
from reportsvc.state import accounts
from reportsvc.state import login as login_state
from reportsvc.state.accounts import Principal
from reportsvc.web.errors import error_page, error_response, wants_json

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
    ("auth.logout_everywhere", "POST"): "viewer",  # nor does ending your own sessions
}


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
        principal = login_state.principal_for_user(current_user.user)
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


def safe_next(raw: str | None) -> str:
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
        response.headers["HX-Redirect"] = url_for("auth.login", next=safe_next(back))
        return response
    return redirect(url_for("auth.login", next=safe_next(target)), 302)  # type: ignore[return-value]


def _forbidden(principal: Principal, role: str) -> Any:
    article = "an" if principal.role[:1] in "aeiou" else "a"
    message = f"this needs the {role} role; {principal.name} is {article} {principal.role}"
    if wants_json():
        return error_response(403, "forbidden", message)
    return error_page(403, f"You are signed in as {principal.name} ({principal.role}); this needs the {role} role.",
                      "Not allowed")
