"""What one page of a state's messages is, and the opaque cursors that resume a listing after it.

Cursors are opaque to callers: pass ``Page.next_cursor`` back unchanged with the same state and
order; each is decoded strictly by ``reportsvc.cursors`` (CursorError, a ValueError, when it is
malformed or out of range). Each state has its own shape, tagged ``w:`` (waiting), ``h:`` (delayed) or ``k:`` (held);
dead-letter cursors live in ``_dead`` because the bulk actions resume from them too.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any

from reportsvc import cursors
from reportsvc.queues.messages import MessageView

#: What a Redis message id or a worker id may look like inside a cursor.
REDIS_ID = re.compile(r"[A-Za-z0-9_.:-]{1,200}")


@dataclass(frozen=True)
class Page:
    """One page of messages in one state."""

    items: list[MessageView]
    next_cursor: str | None
    total: int

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for JSON (datetimes stay datetimes)."""
        return dataclasses.asdict(self)


def encode_waiting_cursor(index: int, anchor: str) -> str:
    """Cursor after the waiting-list entry ``anchor``, last seen at head index ``index``."""
    return f"w:{index}:{anchor}"


def decode_waiting_cursor(cursor: str) -> tuple[int, str]:
    """(head index, anchor id) of a waiting-list cursor; CursorError if it is not one."""
    index, anchor = cursors.split(cursor, "w", 2)
    return cursors.whole(index, 0, cursors.MAX_LIST_INDEX), cursors.token(anchor, REDIS_ID)


def encode_delayed_cursor(scan_cursor: int) -> str:
    """Cursor at HSCAN position ``scan_cursor`` of the delayed bodies hash."""
    return f"h:{scan_cursor}"


def decode_delayed_cursor(cursor: str) -> int:
    """The HSCAN position a delayed cursor resumes at; CursorError if it is not one."""
    (position,) = cursors.split(cursor, "h", 1)
    return cursors.whole(position, 0, cursors.MAX_SCAN_POSITION)


def encode_held_cursor(worker_id: str, scan_cursor: int) -> str:
    """Cursor at SSCAN position ``scan_cursor`` inside ``worker_id``'s ack set."""
    return f"k:{worker_id}|{scan_cursor}"


def decode_held_cursor(cursor: str) -> tuple[str, int]:
    """(worker id, SSCAN position) a held cursor resumes at; CursorError if it is not one."""
    (rest,) = cursors.split(cursor, "k", 1)
    worker_id, _, raw = rest.rpartition("|")
    return cursors.token(worker_id, REDIS_ID), cursors.whole(raw, 0, cursors.MAX_SCAN_POSITION)
