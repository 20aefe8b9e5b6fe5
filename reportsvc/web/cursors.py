"""Cursors at the edge: every cursor a response hands out is sealed for its listing, and every cursor a
request brings back is unsealed (and so refused, 400 ``invalid_cursor``) before it is parsed."""

from __future__ import annotations

from flask import current_app

from reportsvc import cursors
from reportsvc.web.errors import ApiError

REFUSAL = "cursor is malformed or was not issued for this listing; use next_cursor from a previous page"


def _key() -> bytes:
    key = current_app.secret_key
    return key if isinstance(key, bytes) else str(key).encode()


def invalid_cursor() -> ApiError:
    """The one refusal every listing answers a bad cursor with."""
    return ApiError(400, "invalid_cursor", REFUSAL, details=[{"field": "cursor", "message": REFUSAL}])


def sealed(listing: str, inner: str | None) -> str | None:
    """What the client gets for ``inner`` (None stays None: the last page)."""
    return None if inner is None else cursors.seal(_key(), listing, inner)


def opened(listing: str, value: str | None) -> str | None:
    """The inner cursor of what the client sent for ``listing``; None when it sent none; else 400."""
    if not value:
        return None
    try:
        return cursors.unseal(_key(), listing, value)
    except cursors.CursorError:
        raise invalid_cursor() from None
