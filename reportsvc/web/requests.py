"""Reading the current request, shared by the JSON API, the admin API and the console.

Imports no blueprint, so any view module can use it without joining an import circle.
"""

from __future__ import annotations

from typing import Any

from flask import request

from reportsvc.web.errors import ApiError
from reportsvc.web.security import PARSED_BODY, InvalidJson, parse_json


def read_json_body() -> Any:
    """The request's JSON object, None for an empty body; 415/400 for anything else."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        return None
    if not request.is_json:
        raise ApiError(415, "unsupported_media_type", "send the body as application/json")
    if PARSED_BODY in request.environ:  # parsed (and checked) by the input guard already
        return request.environ[PARSED_BODY]
    try:
        return parse_json(raw)
    except InvalidJson as exc:
        raise ApiError(400, "invalid_json", str(exc)) from None


def is_htmx() -> bool:
    """True for an HTMX request that wants a fragment (not a boosted full-page navigation)."""
    return request.headers.get("HX-Request") == "true" and request.headers.get("HX-Boosted") != "true"
