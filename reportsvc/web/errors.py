"""Error answers: JSON for the API (`{"error": {"code", "message"}}`, never an HTML page or a trace) and
the console's styled error pages.

Both live here, in a module that imports no blueprint, so the access policy, the input checks and every
view can answer an error without importing the console (which would import them back).
"""

from __future__ import annotations

import logging
from typing import Any

import redis
from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

log = logging.getLogger("reportsvc.web")


class ApiError(Exception):
    """An error the API answers with a status, a code and a message."""

    def __init__(self, status: int, code: str, message: str, *, details: Any = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details, self.headers = status, code, message, details, headers


def error_response(status: int, code: str, message: str, details: Any = None) -> Response:
    """Build the JSON error body with the given status."""
    body: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    response = jsonify({"error": body})
    response.status_code = status
    return response


HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
    429: "rate_limited",
}


#: Retry-After of a 503 for an unreachable Redis: about what a Sentinel failover takes (README, "Deploying on
#: several hosts").
REDIS_RETRY_AFTER_SECONDS = 2


def invalid_input(field: str, message: str) -> ApiError:
    """A 422 naming the field at fault, in the body's `details` too."""
    return ApiError(422, "invalid_input", f"{field}: {message}", details=[{"field": field, "message": message}])


def wants_json() -> bool:
    """API clients and non-console paths get JSON errors; the console gets its HTML pages."""
    return not request.path.startswith("/console")


def error_page(status: int, message: str, title: str | None = None) -> tuple[str, int]:
    """The console's styled error page."""
    return render_template("console/error.html", status=status, message=message, title=title), status


def console_http_error(err: HTTPException) -> tuple[str, int]:
    """The styled page for an HTTP error under /console (also used for URLs no route matched)."""
    status = err.code or 500
    if status == 404:
        return error_page(404, "There is no console page at this address. It may have moved, or the link is wrong.",
                          "Page not found")
    return error_page(status, err.description or err.name, err.name)


def init_app(app: Flask) -> None:
    """Register the JSON error handlers."""

    @app.errorhandler(ApiError)
    def handle_api_error(err: ApiError) -> Response:
        response = error_response(err.status, err.code, err.message, err.details)
        for name, value in (err.headers or {}).items():
            response.headers[name] = value
        return response

    @app.errorhandler(HTTPException)
    def handle_http(err: HTTPException) -> Any:
        if not wants_json():
            return console_http_error(err)
        status = err.code or 500
        if status == 413:
            limit = app.config.get("MAX_CONTENT_LENGTH")
            return error_response(413, "payload_too_large", f"request body is larger than {limit} bytes")
        return error_response(status, HTTP_CODES.get(status, "http_error"), err.description or err.name)

    @app.errorhandler(redis.ConnectionError)
    @app.errorhandler(redis.TimeoutError)
    def handle_redis_unavailable(err: redis.RedisError) -> Any:
        # Redis down, or a Sentinel failover under way (the old master gone, the new one not yet promoted):
        # a 503 the client may retry, never a 500. Reports themselves live in PostgreSQL and are safe.
        log.warning("Redis unavailable on %s %s: %s", request.method, request.path, err)
        if not wants_json():
            return error_page(503, "The queue store (Redis) cannot be reached right now. Try again in a moment.",
                              "Queue store unavailable")
        response = error_response(503, "redis_unavailable",
                                  "the queue store (Redis) cannot be reached right now; retry shortly")
        response.headers["Retry-After"] = str(REDIS_RETRY_AFTER_SECONDS)
        return response

    @app.errorhandler(Exception)
    def handle_unexpected(err: Exception) -> Any:
        log.exception("Unhandled error on %s %s", request.method, request.path)
        if not wants_json():
            return render_template("console/error.html", status=500, message="Something went wrong."), 500
        return error_response(500, "internal_error", "the server hit an unexpected error; it has been logged")


TRACEBACK_OMITTED = "(omitted from the API; operators see it on the report's console page)"


def without_tracebacks(value: Any) -> Any:
    """A copy of JSON-like data with every `traceback` field replaced: API responses carry no stack traces."""
    if isinstance(value, dict):
        return {k: (TRACEBACK_OMITTED if k == "traceback" and v else without_tracebacks(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [without_tracebacks(v) for v in value]
    return value
