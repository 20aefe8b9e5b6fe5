"""Response headers and request hygiene for every route (issue 6).

Headers: a Content-Security-Policy that allows scripts and styles from this origin only (the console
has no inline script, style attribute or event handler; htmx reads its config from a meta tag and
runs with allowEval=false), frame-ancestors 'none', nosniff, a same-origin referrer policy, and
no-store on everything that is not a static file (pages and JSON carry operational data).

Input: before any view runs, path parameters (the `<name>` parts of every route, read from
request.view_args after routing), query-string keys and values, form fields and JSON strings (keys
too) are refused with a 4xx naming the parameter or field when they contain NUL, other control
characters or lone surrogates: PostgreSQL cannot store NUL and psycopg cannot encode a surrogate, so
these would otherwise surface as 500s deep in a query. A JSON body nested too deeply for the parser
(RecursionError, not ValueError) is a 400 invalid_json like any other unparsable body. Size is capped
by MAX_CONTENT_LENGTH (413).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, request
from werkzeug.exceptions import RequestEntityTooLarge

from reportsvc.web.errors import error_page, error_response, wants_json

CSP = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))

HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}

#: Characters refused anywhere in text input: C0 controls except tab/newline/CR, DEL, surrogates.
_ALLOWED_CONTROLS = {"\t", "\n", "\r"}
MAX_DEPTH = 32
#: Where check_input leaves the JSON body it parsed and checked, for the view (reportsvc.web.requests).
PARSED_BODY = "reportsvc.parsed_json"


def bad_char(value: str) -> str | None:
    """A description of the first forbidden character in value, or None."""
    for ch in value:
        code = ord(ch)
        if (code < 32 and ch not in _ALLOWED_CONTROLS) or code == 127:
            return "must not contain NUL or other control characters"
        if 0xD800 <= code <= 0xDFFF:
            return "must not contain unpaired surrogates (invalid Unicode)"
    return None


def _walk(value: Any, path: str, depth: int = 0) -> tuple[str, str] | None:
    if depth > MAX_DEPTH:
        return path or "body", f"is nested deeper than {MAX_DEPTH} levels"
    if isinstance(value, str):
        problem = bad_char(value)
        return (path or "body", problem) if problem else None
    if isinstance(value, dict):
        for key, item in value.items():
            child = f"{path}.{key}" if path else str(key)
            problem = bad_char(str(key))
            if problem:
                return (path or "body"), f"has a key that {problem}"
            found = _walk(item, child, depth + 1)
            if found:
                return found
    if isinstance(value, list):
        for i, item in enumerate(value):
            found = _walk(item, f"{path}[{i}]" if path else f"[{i}]", depth + 1)
            if found:
                return found
    return None


def find_bad_input(value: Any) -> tuple[str, str] | None:
    """(field path, problem) of the first string in parsed JSON the input guard refuses, or None."""
    return _walk(value, "")


class InvalidJson(ValueError):
    """A body that is not JSON this service can read (malformed, or nested past the parser's limit)."""


class JsonTooDeep(InvalidJson):
    """A body nested so deeply that the parser gave up (RecursionError)."""


def parse_json(raw: bytes | str) -> Any:
    """json.loads that raises InvalidJson for every unreadable body, too-deep nesting included."""
    try:
        return json.loads(raw)
    except RecursionError:
        # The C parser recurses once per level: '[' * 3000 exhausts the stack before it sees an error.
        raise JsonTooDeep(f"the body is not valid JSON: nested too deeply (at most {MAX_DEPTH} levels)") from None
    except ValueError as exc:
        if "digits" in str(exc):  # Python's int limit (4300 digits): valid JSON, but not a number we read
            raise InvalidJson("the body holds a number with too many digits (at most 4300)") from None
        raise InvalidJson("the body is not valid JSON") from None


def _read_unsized_body() -> None:
    """A body sent without Content-Length (chunked) is read here, at most MAX_CONTENT_LENGTH + 1 bytes: one
    byte over is a 413. (Werkzeug's own limit cuts such a body short silently: it then read as bad JSON.)"""
    if request.content_length is not None or not request.environ.get("wsgi.input_terminated"):
        return
    limit = request.max_content_length
    if limit is None:
        return
    raw = request.environ["wsgi.input"].read(limit + 1)
    if len(raw) > limit:
        raise RequestEntityTooLarge()
    # What get_data(cache=True) keeps: form and JSON parsing read the body from here.
    request._cached_data = raw  # type: ignore[attr-defined]


def check_input() -> Any:
    """before_request: refuse control characters / surrogates in any text input, naming the field."""
    # view_args is None when no route matched; then the 404/405 handler answers and no view runs.
    for key, value in (request.view_args or {}).items():
        problem = bad_char(value) if isinstance(value, str) else None
        if problem:
            return _refuse(400, _printable(key), problem, in_path=True)
    for key, value in request.args.items(multi=True):
        problem = bad_char(key) or bad_char(value)
        if problem:
            return _refuse(400, _printable(key), problem)
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return None
    _read_unsized_body()
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        request.get_data(cache=True)  # keep the raw body readable for views that want it (JSON API: 415)
        for key, value in request.form.items(multi=True):
            problem = bad_char(key) or bad_char(value)
            if problem:
                return _refuse(422, _printable(key), problem)
    elif request.is_json:
        raw = request.get_data(cache=True)
        if raw.strip():
            try:
                body = parse_json(raw)
            except JsonTooDeep as exc:
                # Answered here, unlike a merely malformed body: it cannot be checked for control characters,
                # and any view parsing it with plain json.loads / get_json would hit the RecursionError (a 500).
                return _refuse_json(str(exc))
            except InvalidJson:
                return None  # the view answers 400 invalid_json
            found = find_bad_input(body)
            if found:
                return _refuse(422, _printable(found[0]), found[1])
            request.environ[PARSED_BODY] = body  # read_json_body answers from here: the body is parsed once
    return None


def _printable(name: str) -> str:
    return "".join(ch if ch.isprintable() and not 0xD800 <= ord(ch) <= 0xDFFF else "?" for ch in name)[:100]


#: endpoint -> how that console form answers a refused field to HTMX (its own fragment, the error beside the
#: input) instead of the whole error page landing inside the form's card. Filled by the form's module.
FORM_REFUSALS: dict[str, Callable[[str, str], Any]] = {}


def form_refusal(endpoint: str) -> Callable[[Callable[[str, str], Any]], Callable[[str, str], Any]]:
    """Register `fn(field, message)` as the HTMX answer of `endpoint`'s form to a refused field."""
    def register(fn: Callable[[str, str], Any]) -> Callable[[str, str], Any]:
        FORM_REFUSALS[endpoint] = fn
        return fn
    return register


def _refuse(status: int, field: str, message: str, *, in_path: bool = False) -> Any:
    fragment = FORM_REFUSALS.get(request.endpoint or "")
    if fragment is not None and not in_path and request.headers.get("HX-Request") == "true":
        return fragment(field, message)
    if wants_json():
        return error_response(status, "invalid_input", f"{field}: {message}",
                              details=[{"field": field, "message": message}])
    where = f"The “{field}” part of the address" if in_path else f"The field “{field}”"
    return error_page(status, f"{where} {message}.", "Invalid input")


def _refuse_json(message: str) -> Any:
    if wants_json():
        return error_response(400, "invalid_json", message)
    return error_page(400, f"The request could not be read: {message}.", "Invalid input")


_HEADER_KEYS = {name.lower(): name for name in HEADERS}
#: Strict-Transport-Security on every response to a request that came over https.
HSTS = "max-age=31536000; includeSubDomains"


def add_headers(response: Response) -> Response:
    """after_request: security headers on every response; no-store unless a view chose caching."""
    headers = response.headers
    # One pass over what the view set (Werkzeug's setdefault scans every header per name it adds).
    present = {key.lower() for key, _ in headers.items()}
    headers.extend([(name, HEADERS[name]) for key, name in _HEADER_KEYS.items() if key not in present])
    if request.is_secure and "strict-transport-security" not in present:
        headers.add("Strict-Transport-Security", HSTS)
    if response.mimetype == "application/pdf":
        # A report is private data: no shared cache, no copy kept (send_file's own "no-cache" keeps one).
        headers["Cache-Control"] = "private, no-store"
    elif request.endpoint != "static" and "cache-control" not in present:
        headers.add("Cache-Control", "no-store")
    return response


def init_app(app: Flask) -> None:
    """Install the input check (right after the access policy) and the header hook."""
    funcs = app.before_request_funcs.setdefault(None, [])
    funcs.insert(1 if funcs else 0, check_input)
    app.after_request(add_headers)
