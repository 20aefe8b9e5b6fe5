"""Who is making the request (placeholder identity until accounts exist)."""

from __future__ import annotations

from flask import request


def current_actor() -> str:
    """A name for requested_by and the audit log."""
    forwarded = request.headers.get("X-Requested-By", "").strip()
    return forwarded[:255] if forwarded else "anonymous"
