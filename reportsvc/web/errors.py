"""JSON errors for the API: `{"error": {"code", "message"}}`, never an HTML page or a trace."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify, request
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


def wants_json() -> bool:
    """API clients and non-console paths get JSON errors; the console gets its HTML pages."""
    return not request.path.startswith("/console")


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
            from reportsvc.web.console import console_http_error

            return console_http_error(err)
        status = err.code or 500
        if status == 413:
            limit = app.config.get("MAX_CONTENT_LENGTH")
            return error_response(413, "payload_too_large", f"request body is larger than {limit} bytes")
        return error_response(status, HTTP_CODES.get(status, "http_error"), err.description or err.name)

    @app.errorhandler(Exception)
    def handle_unexpected(err: Exception) -> Any:
        log.exception("Unhandled error on %s %s", request.method, request.path)
        if not wants_json():
            from flask import render_template

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
