"""Access control installed on the app (issue 6): the session key, the policy hook, rate limits, and the
answers to a refused request (a bad CSRF token, a breached limit).

Who may call what is access.py's; signing in and out is login.py's; this module wires them into Flask:
`init_app` runs after every blueprint is registered, so the policy hook goes first and limits attach to
views by endpoint name.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, make_response, request
from flask_wtf.csrf import CSRFError

from reportsvc.extensions import login_manager
from reportsvc.redis_client import limiter_storage
from reportsvc.web import security, sessions
from reportsvc.web.access import can, current_actor, current_principal, enforce, safe_next
from reportsvc.web.errors import error_page, error_response, wants_json
from reportsvc.web.limits import LimitSpec, RateLimited
from reportsvc.web.limits import limits as rate_limits
from reportsvc.web.login import login_page

log = logging.getLogger("reportsvc.web.auth")


def _csrf_error(err: CSRFError) -> Any:
    message = "The form's security token is missing or expired. Reload the page and try again."
    if request.endpoint == "auth.login":
        return login_page(safe_next(request.values.get("next")), message, 400)
    if wants_json():
        return error_response(400, "csrf_failed", "missing or invalid CSRF token (send X-CSRFToken, or use a "
                              "bearer token for API calls)")
    return error_page(400, message, "Security token expired")


def _rate_limited(err: RateLimited) -> Any:
    # /login is the HTML sign-in form (outside /console, so wants_json() would say JSON): its refusal is the
    # sign-in page with the message, for a browser as for any other client.
    if request.endpoint != "auth.login":
        if wants_json():
            response = error_response(429, "rate_limited", f"too many requests: limit {err.description}; "
                                      "retry after the Retry-After seconds")
        else:
            response = make_response(error_page(429, f"Too many requests ({err.description}). "
                                                "Wait a moment and try again.", "Slow down"))
    else:
        response = login_page(safe_next(request.values.get("next")),
                              "Too many sign-in attempts. Wait a minute and try again.", 429)
    # Read only on a refusal (no X-RateLimit-* headers): a request under its limit costs one INCR per limit.
    response.headers["Retry-After"] = str(err.retry_after)
    return response


LIMITED_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
#: The operator calls that cost the broker or the database most; one shared budget per account.
OPERATOR_ACTIONS = (
    "api.retry", "console.retry",
    "queues_api.requeue_dead", "queues_api.delete_dead", "queues_api.count_dead", "queues_api.cancel_bulk_job",
    "queues_api.release", "queues_api.release_worker_route",
    "console_queues.dead_selected", "console_queues.dead_count", "console_queues.dead_all",
    "console_queues.release_worker",
)


#: app.extensions key: endpoint -> its LimitSpecs, as attached by `_wrap_limits` (read by web/fast_create.py).
LIMIT_PLAN = "reportsvc.limit_plan"


def account_key_for(actor: str) -> str:
    """The rate-limit key of an account's own budget."""
    return "user:" + actor


def account_key() -> str:
    """The current request's account key (creates and operator actions count per account)."""
    return account_key_for(current_actor())


def _login_account_key() -> str:
    return "account:" + (request.form.get("name") or "").strip().lower()[:64]


def _wrap_limits(app: Flask) -> None:
    """Attach the rate limits to the views that need them, by endpoint (after registration)."""
    def settings() -> Any:  # re-read on every request: tests (and only tests) swap settings
        return app.extensions["reportsvc.settings"]

    plan: dict[str, list[LimitSpec]] = {
        "api.create_report": [(lambda: settings().rate_limit_report_create, account_key, "create")],
        "console.create": [(lambda: settings().rate_limit_report_create, account_key, "create")],
        "auth.login": [(lambda: settings().rate_limit_login_ip, None, "login-ip"),
                       (lambda: settings().rate_limit_login_account, _login_account_key, "login-account")],
    }
    operator_action = (lambda: settings().guard.rate_limit_operator_actions, account_key, "operator-action")
    for endpoint in OPERATOR_ACTIONS:
        plan[endpoint] = [operator_action]
    app.extensions[LIMIT_PLAN] = plan
    for endpoint, limits in plan.items():
        view: Any = app.view_functions.get(endpoint)
        if view is None:
            log.warning("rate limit for %s not attached: no such endpoint", endpoint)
            continue
        # Every method but a plain GET of the page counts, so HEAD or any method added later is limited too.
        app.view_functions[endpoint] = rate_limits.limit(view, limits, LIMITED_METHODS)


def _ensure_secret_key(app: Flask) -> None:
    """Without SECRET_KEY, use a random per-install key kept in instance/secret_key (shared by every web
    process on this host; set SECRET_KEY for several hosts). config.py refuses a weak SECRET_KEY."""
    if app.config.get("SECRET_KEY"):
        return
    import secrets
    from pathlib import Path

    path = Path(app.instance_path) / "secret_key"
    try:
        if not path.exists():
            _create_key_file(path, secrets.token_hex(32))
        key = _read_key_file(path)
    except OSError as exc:
        log.warning("SECRET_KEY is not set and %s cannot be written (%s); using a key for this process only",
                    path, exc)
        key = ""
    app.config["SECRET_KEY"] = key or secrets.token_hex(32)


def _create_key_file(path: Any, key: str) -> None:
    """Write a complete temp file created 0600 from the start, then link it into place: a process starting at
    the same moment sees no key file or the whole key, never an empty or briefly readable one."""
    import contextlib
    import os

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".secret_key.{os.getpid()}")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(key)
        with contextlib.suppress(FileExistsError):  # another process won: use its key
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _read_key_file(path: Any) -> str:
    """The key in an existing file, refused (ConfigError) when others may read it or it is too short."""
    import stat

    from reportsvc.config import MIN_SECRET_KEY_LENGTH, ConfigError

    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise ConfigError(f"{path} is readable by other users (mode {mode:04o}); it signs every session. "
                          f"Run: chmod 600 {path}")
    key = path.read_text().strip()
    if len(key) < MIN_SECRET_KEY_LENGTH:
        raise ConfigError(f"{path} holds a key of {len(key)} characters; it needs at least {MIN_SECRET_KEY_LENGTH}. "
                          "Delete the file to have a new key generated (every session ends)")
    return key


def init_app(app: Flask) -> None:
    """Install the session key, the policy (first before_request), input checks, limits and refusal handlers."""
    _ensure_secret_key(app)
    sessions.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.session_protection = "basic"
    # The policy runs before every other before_request hook (present or added later).
    app.before_request_funcs.setdefault(None, []).insert(0, enforce)
    security.init_app(app)
    app.register_error_handler(CSRFError, _csrf_error)
    settings = app.extensions["reportsvc.settings"]
    # The same Redis (through Sentinel when configured) and timeouts as every other client: a silent Redis must
    # not hang POST /reports in the limiter before the send even starts (errors are swallowed: not limited).
    storage_uri, options = limiter_storage(settings)
    rate_limits.init_app(app, storage_uri=storage_uri, options=options,
                         enabled=lambda: app.extensions["reportsvc.settings"].rate_limit_enabled,
                         reserve=lambda: app.extensions["reportsvc.settings"].rate_limit_reserve)
    app.register_error_handler(RateLimited, _rate_limited)
    _wrap_limits(app)
    app.jinja_env.globals.update(can=can, current_principal=current_principal)
