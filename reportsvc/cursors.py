"""Every listing's cursor is read here: one strict grammar, every field range-checked, and a seal.

Inner cursors are what the queues and state layers hand out and resume from (``w:<index>:<anchor>``,
``h:<scan>``, ``x:<score>:<id>``, a base64 ``<timestamp>|<id>`` for rows). Their decoders split them
with :func:`split` and check each field with :func:`whole`, :func:`real`, :func:`token`, :func:`stamp`
or :func:`uuid_of`, so nothing out of range reaches Redis or PostgreSQL: a negative or huge index,
a NaN score, an HSCAN position past 2**64, an id past bigint all raise :class:`CursorError`.

The web layer adds a seal (:func:`seal` / :func:`unseal`): HMAC-SHA256 under the app key over the
listing's name and the inner cursor. A client can then only send back a cursor the server gave it, for
the same listing; anything else is refused before it is parsed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import math
import re
import uuid
from datetime import datetime

#: Longer than any cursor the server hands out (a sealed dead-letter cursor is ~110 characters).
MAX_CURSOR_CHARS = 400
#: Redis LIST positions are below 2**32; SCAN positions are unsigned 64-bit.
MAX_LIST_INDEX = 2**32 - 1
MAX_SCAN_POSITION = 2**64 - 1
#: PostgreSQL bigint.
MAX_BIGINT = 2**63 - 1

_PRINTABLE = re.compile(r"^[\x21-\x7e]+$")
_WHOLE = re.compile(r"^(0|[1-9][0-9]{0,19})$")
_REAL = re.compile(r"^[0-9]{1,17}(\.[0-9]{1,17})?$")
_SEALED = re.compile(r"^([A-Za-z0-9_-]{1,400})\.([A-Za-z0-9_-]{22})$")
_MAC_BYTES = 16


class CursorError(ValueError):
    """The cursor is not one this service hands out (malformed, out of range, or for another listing)."""


def split(cursor: str, tag: str, count: int, sep: str = ":") -> list[str]:
    """The ``count`` fields after ``tag`` + ``sep``; the last field keeps any further separators."""
    if not isinstance(cursor, str) or not 0 < len(cursor) <= MAX_CURSOR_CHARS or not _PRINTABLE.match(cursor):
        raise CursorError("cursor is malformed")
    head, found, rest = cursor.partition(sep)
    if head != tag or not found:
        raise CursorError(f"not a {tag!r} cursor")
    parts = rest.split(sep, count - 1) if count > 1 else [rest]
    if len(parts) != count or any(p == "" for p in parts):
        raise CursorError("cursor is malformed")
    return parts


def whole(text: str, lo: int, hi: int) -> int:
    """A decimal whole number written plainly (no sign, no leading zeros) within [lo, hi]."""
    if not _WHOLE.match(text):
        raise CursorError("cursor position is not a whole number")
    value = int(text)
    if not lo <= value <= hi:
        raise CursorError("cursor position is out of range")
    return value


def real(text: str, lo: float, hi: float) -> float:
    """A plain decimal (no exponent, NaN or infinity) within [lo, hi]."""
    if not _REAL.match(text):
        raise CursorError("cursor score is not a number")
    value = float(text)
    if not math.isfinite(value) or not lo <= value <= hi:
        raise CursorError("cursor score is out of range")
    return value


def token(text: str, pattern: re.Pattern[str]) -> str:
    """``text`` when the whole of it matches ``pattern``."""
    if not pattern.fullmatch(text):
        raise CursorError("cursor names no valid id")
    return text


def stamp(text: str) -> datetime:
    """A timezone-aware ISO 8601 timestamp."""
    if len(text) > 40:
        raise CursorError("cursor time is malformed")
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise CursorError("cursor time is malformed") from None
    if value.tzinfo is None:
        raise CursorError("cursor time has no timezone")
    return value


def uuid_of(text: str) -> uuid.UUID:
    """A UUID in its canonical hyphenated form."""
    try:
        value = uuid.UUID(text)
    except ValueError:
        raise CursorError("cursor names no valid id") from None
    if str(value) != text.lower():
        raise CursorError("cursor names no valid id")
    return value


def encode_text(raw: str) -> str:
    """URL-safe base64 of ``raw`` without padding (for cursors whose fields hold ':' or '+')."""
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_text(cursor: str) -> str:
    """Inverse of :func:`encode_text`; CursorError for anything that is not its output."""
    if not isinstance(cursor, str) or not 0 < len(cursor) <= MAX_CURSOR_CHARS:
        raise CursorError("cursor is malformed")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise CursorError("cursor is malformed") from None
    if encode_text(raw) != cursor or not _PRINTABLE.match(raw):
        raise CursorError("cursor is malformed")
    return raw


def _mac(key: bytes, listing: str, inner: str) -> bytes:
    # A key of its own (derived), so a cursor MAC can never double as a session or CSRF signature.
    derived = hmac.new(key, b"reportsvc.cursor.v1", hashlib.sha256).digest()
    return hmac.new(derived, listing.encode() + b"\0" + inner.encode(), hashlib.sha256).digest()[:_MAC_BYTES]


def seal(key: bytes, listing: str, inner: str) -> str:
    """``inner`` signed for ``listing``: what the client gets as ``next_cursor``."""
    mac = base64.urlsafe_b64encode(_mac(key, listing, inner)).decode().rstrip("=")
    return f"{encode_text(inner)}.{mac}"


def unseal(key: bytes, listing: str, sealed: str) -> str:
    """The inner cursor of a sealed one, if this server sealed it for this listing; else CursorError."""
    if not isinstance(sealed, str) or len(sealed) > MAX_CURSOR_CHARS:
        raise CursorError("cursor is malformed")
    match = _SEALED.match(sealed)
    if match is None:
        raise CursorError("cursor is malformed")
    inner = decode_text(match.group(1))
    expected = base64.urlsafe_b64encode(_mac(key, listing, inner)).decode().rstrip("=")
    if not hmac.compare_digest(expected, match.group(2)):
        raise CursorError("cursor was not issued for this listing")
    return inner
