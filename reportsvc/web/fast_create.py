"""`POST /reports` answered without Flask's per-request machinery when nothing in the request needs it (issue 16).

A create through Flask builds a request context (Request object, URL match, session, app context), runs the
before-request hooks (access policy, input guard, CSRF), the rate limit, the view, `jsonify`, the after-request
hooks (security headers, session, remember cookie) and the teardowns: about 0.28 ms of CPU of which the
report's own work (validation, INSERT, enqueue) is a small part. `FastCreate` sits between the trusted-proxy
fix and Flask and answers the common case itself, calling the same functions in the same order:

1. only `POST /reports` with no query string, no cookie, a bearer token, `Content-Type: application/json`
   and a Content-Length within MAX_CONTENT_LENGTH;
2. the token's principal (`accounts.principal_for_token`, the same cache) with the role the access policy
   asks of that endpoint (`access.required_role`);
3. the body parsed and checked as the input guard does (`security.parse_json`, `security.find_bad_input`), then
   `schemas.validate_create`; no `notify_email` (its per-recipient limit) and no refused `callback_url`;
4. the rate limit counted with the same specs, keys and counters (`limits.count`);
5. `jobs.submit`, and the 202 Flask would send: the same body, status and headers.

Steps 1 – 3 have no side effects: a request that fails any of them (a missing or unknown token, a bad body,
a 4xx of any kind) goes to Flask untouched (its body put back) and is answered there as before. Once the
limit is counted, a refusal or an exception from `jobs.submit` is handed to Flask through the WSGI environ
(`HANDOFF`): the view's wrapper raises it instead of counting again, so the 429 and the error answers
(and their log lines) come from the same handlers. CREATE_FAST_PATH=0 sends every create through Flask.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, request
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.urls import iri_to_uri

from reportsvc.ops import jobs
from reportsvc.state import accounts
from reportsvc.web import auth, sessions
from reportsvc.web.access import required_role
from reportsvc.web.limits import limits
from reportsvc.web.schemas import InputError, validate_create
from reportsvc.web.security import HEADERS, HSTS, InvalidJson, find_bad_input, parse_json

#: environ key: what the fast path already did before handing the request to Flask (an exception to raise).
HANDOFF = "reportsvc.fast_create.handoff"
ENDPOINT = "api.create_report"
STATUS = f"202 {HTTP_STATUS_CODES[202].upper()}"
#: As Flask's after-request hook adds them (web/security.py), after Content-Type, Content-Length and Location;
#: then HSTS over https, no-store, and the Vary the session interface adds once Flask-Login looked at it.
SECURITY_HEADERS = tuple(HEADERS.items())


class FastCreate:
    """WSGI middleware: answer an ordinary `POST /reports` directly, anything else through `inner` (Flask)."""

    def __init__(self, app: Flask, inner: Callable[..., Any]) -> None:
        self.app, self.inner = app, inner
        self.hooks = Hooks(app)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        """Answer the request, here or through Flask."""
        if environ.get("PATH_INFO") != "/reports" or environ.get("REQUEST_METHOD") != "POST":
            return self.inner(environ, start_response)
        settings = self.app.extensions["reportsvc.settings"]
        if (settings.hotpath.create_fast_path and _plain(environ, self.app.config.get("MAX_CONTENT_LENGTH"))
                and self.hooks.known()):
            with self.app.app_context():
                answer = self._answer(environ, start_response, settings)
            if answer is not None:
                return answer
        return self.inner(environ, start_response)

    def _answer(self, environ: dict[str, Any], start_response: Callable[..., Any],
                settings: Any) -> list[bytes] | None:
        """The 202 sent, or None for Flask to answer (the body put back for it to read)."""
        principal = _principal(environ, settings)
        if principal is None:
            return None
        length = int(environ["CONTENT_LENGTH"])
        try:
            raw = _read(environ["wsgi.input"], length)
        except OSError as exc:  # a connection reset mid-body: Flask's first read of the body fails the same way
            environ["wsgi.input"] = _Unreadable(exc)
            return None
        environ["wsgi.input"] = io.BytesIO(raw)  # for Flask, if it answers after all
        if len(raw) != length:
            return None  # a client gone mid-body: Werkzeug's answer
        try:
            fields = _fields(raw, settings)
        except Exception:  # e.g. a report type's own validation failing: the view raises it, answered as a 500
            return None
        specs = self.app.extensions.get(auth.LIMIT_PLAN, {}).get(ENDPOINT, [])
        keys = {key_func: _key(key_func, principal.name, environ) for _, key_func, _ in specs}
        if fields is None or None in keys.values():
            return None
        try:
            limits.count(specs, lambda key_func: keys[key_func] or "")
            report = jobs.submit(requested_by=principal.name, **fields)
        except Exception as exc:  # counted already: Flask raises it where the view would have
            environ[HANDOFF] = exc
            return None
        body = _json(self.app, {"id": str(report.id), "status": "PENDING", "message": "Report generation started"})
        script_root = environ.get("SCRIPT_NAME", "").encode("latin-1").decode(errors="replace").rstrip("/")
        location = f"{script_root}/reports/{report.id}"
        if script_root:  # as Werkzeug sends a Location: an IRI quoted to a URI (a header is latin-1 on the wire)
            location = iri_to_uri(location)
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body))),
                   ("Location", location), *SECURITY_HEADERS]
        if environ.get("wsgi.url_scheme") == "https":
            headers.append(("Strict-Transport-Security", HSTS))
        headers += [("Cache-Control", "no-store"), ("Vary", "Cookie")]
        start_response(STATUS, headers)
        return [body]


#: The request hooks whose work the fast path does itself (by module and qualified name). A hook or URL processor
#: registered on the app or the API blueprint that is not here sends every create through Flask again.
KNOWN_HOOKS = frozenset({
    "reportsvc.web.access.enforce",
    "reportsvc.web.security.check_input",
    "flask_wtf.csrf.CSRFProtect.init_app.<locals>.csrf_protect",  # WTF_CSRF_CHECK_DEFAULT off: enforce checks
    "flask_login.login_manager.LoginManager._update_remember_cookie",  # no cookie, no remember-me: nothing
    "reportsvc.web.security.add_headers",
    "reportsvc.web.body_drain.drain_body",  # the fast path reads the whole body
})
_HOOK_LISTS = ("before_request_funcs", "after_request_funcs", "teardown_request_funcs", "url_value_preprocessors",
               "url_default_functions")


class Hooks:
    """Whether the app's request hooks are still the ones the fast path stands in for: the hook functions are
    compared with the last ones seen on every create (a few identity checks), their names only when they change."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._seen: tuple[Any, ...] | None = None
        self._known = False

    def known(self) -> bool:
        """True while every hook on the app and on the API blueprint is one of KNOWN_HOOKS."""
        funcs = [fn for name in _HOOK_LISTS for scope in (None, "api")
                 for fn in getattr(self.app, name).get(scope, ())]
        seen = tuple(funcs)
        if seen != self._seen:
            names = {f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', '?')}" for fn in funcs}
            self._known, self._seen = names <= KNOWN_HOOKS, seen
        return self._known


def _read(stream: Any, length: int) -> bytes:
    """Up to `length` bytes of the body, read until they are all there or the stream ends (a server may hand
    them over in parts, as Werkzeug's LimitedStream allows for)."""
    parts, left = [], length
    while left > 0:
        part = stream.read(left)
        if not part:
            break
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


class _Unreadable(io.RawIOBase):
    """A request body whose reading failed on the fast path: Flask's read fails with the same exception."""

    def __init__(self, exc: OSError) -> None:
        self.exc = exc

    def readable(self) -> bool:
        """A stream to read (that fails)."""
        return True

    def readinto(self, buffer: Any) -> int:
        """Raise what the first read raised."""
        raise self.exc


def _plain(environ: dict[str, Any], max_length: int | None) -> bool:
    """No query string, cookie or chunked body; a JSON content type and a length within the app's limit."""
    if environ.get("QUERY_STRING") or environ.get("HTTP_COOKIE") or environ.get("HTTP_TRANSFER_ENCODING"):
        return False
    if environ.get("CONTENT_TYPE", "").split(";", 1)[0].strip().lower() != "application/json":
        return False
    length = environ.get("CONTENT_LENGTH", "")
    return length.isascii() and length.isdigit() and (max_length is None or int(length) <= max_length)


def _principal(environ: dict[str, Any], settings: Any) -> Any:
    """The bearer token's principal when it has the role the access policy asks of a create, else None."""
    scheme, _, token = environ.get("HTTP_AUTHORIZATION", "").strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    try:
        principal = accounts.principal_for_token(token.strip())
    except Exception:  # the database: Flask asks again and answers the failure as it always does
        return None
    role = required_role(ENDPOINT, "POST", metrics_public=settings.metrics_public)
    if principal is None or (role is not None and not principal.has(role)):
        return None
    return principal


def _fields(raw: bytes, settings: Any) -> dict[str, Any] | None:
    """What the input guard and the view make of the body (`validate_create`'s fields); None for a refusal."""
    parsed: Any = None
    if raw.strip():
        try:
            parsed = parse_json(raw)
        except InvalidJson:
            return None
        if find_bad_input(parsed) is not None:
            return None
    try:
        fields = validate_create(parsed, fault_injection=settings.fault_injection,
                                 notify_domains=settings.guard.notify_email_domains)
    except InputError:
        return None
    if fields["notify_email"] or (fields["callback_url"] and not settings.push.webhook_secret):
        return None  # the recipients' limit, or the 422: the view's
    return fields


def _key(key_func: Callable[[], str] | None, actor: str, environ: dict[str, Any]) -> str | None:
    """The rate-limit key `key_func` gives inside the request (the account's, or the client address); None
    for a key function only the request context can answer."""
    if key_func is None:
        return environ.get("REMOTE_ADDR") or "unknown"
    if key_func is auth.account_key:
        return auth.account_key_for(actor)
    return None


def _json(app: Flask, obj: Any) -> bytes:
    """What `jsonify(obj)` sends (the app's JSON provider, compact unless debug), as bytes."""
    provider: Any = app.json
    compact = not ((getattr(provider, "compact", None) is None and app.debug) or getattr(provider, "compact", None)
                   is False)
    text = provider.dumps(obj, **({"separators": (",", ":")} if compact else {"indent": 2}))
    return f"{text}\n".encode()


def handoff(view: Callable[..., Any]) -> Callable[..., Any]:
    """`view`, raising first what the fast path handed over (a refusal already counted, a failed submit)."""
    @functools.wraps(view)
    def handed(*args: Any, **kwargs: Any) -> Any:
        exc = request.environ.pop(HANDOFF, None)
        if exc is not None:
            raise exc
        return view(*args, **kwargs)

    return handed


def init_app(app: Flask) -> None:
    """Put the fast path inside the trusted-proxy fix, and the hand-off around the (rate-limited) create view."""
    app.view_functions[ENDPOINT] = handoff(app.view_functions[ENDPOINT])
    sessions.wrap_inner(app, lambda inner: FastCreate(app, inner))


