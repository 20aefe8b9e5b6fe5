"""The one strict cursor parser: shapes, ranges and seals, without an app."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reportsvc import cursors
from reportsvc.queues._dead import decode_dead_cursor, encode_dead_cursor
from reportsvc.queues.paging import (
    decode_delayed_cursor,
    decode_held_cursor,
    decode_waiting_cursor,
    encode_delayed_cursor,
    encode_held_cursor,
    encode_waiting_cursor,
)
from reportsvc.state.audit import AuditQueryError
from reportsvc.state.audit import _decode as decode_audit_cursor
from reportsvc.state.queries import QueryError, decode_cursor

KEY = b"k" * 32


def test_issued_cursors_decode_to_what_was_encoded():
    assert decode_waiting_cursor(encode_waiting_cursor(7, "a-b")) == (7, "a-b")
    assert decode_delayed_cursor(encode_delayed_cursor(2**64 - 1)) == 2**64 - 1
    assert decode_held_cursor(encode_held_cursor("w-1", 12)) == ("w-1", 12)
    assert decode_dead_cursor(encode_dead_cursor(1733300000123.0, "id-1")) == (1733300000123.0, "id-1")


@pytest.mark.parametrize("cursor", ["w:-1:x", "w:-5:x", "w:99999999999999999999999:x", "w:4294967296:x", "w:01:x",
                                    "w:1:", "w:1:a b", "h:1:x", "x:1:x"])
def test_waiting_cursors_out_of_shape_or_range_are_refused(cursor):
    with pytest.raises(cursors.CursorError):
        decode_waiting_cursor(cursor)


@pytest.mark.parametrize("cursor", ["h:-1", "h:18446744073709551616", "h:", "h:1e3", "h: 1", "w:1"])
def test_delayed_cursors_out_of_shape_or_range_are_refused(cursor):
    with pytest.raises(cursors.CursorError):
        decode_delayed_cursor(cursor)


@pytest.mark.parametrize("cursor", ["x:nan:x", "x:inf:x", "x:-1.0:x", "x:1e400:x", "x:1.0:", "x:99999999999999999:x"])
def test_dead_cursors_out_of_shape_or_range_are_refused(cursor):
    with pytest.raises(cursors.CursorError):
        decode_dead_cursor(cursor)


def test_row_cursors_past_bigint_or_without_timezone_are_refused():
    with pytest.raises(AuditQueryError):
        decode_audit_cursor(cursors.encode_text("2026-01-01T00:00:00+00:00|9223372036854775808"))
    with pytest.raises(AuditQueryError):
        decode_audit_cursor(cursors.encode_text("2026-01-01T00:00:00|1"))
    with pytest.raises(QueryError):
        decode_cursor(cursors.encode_text("2026-01-01T00:00:00+00:00|not-a-uuid"))


def test_a_seal_binds_the_cursor_to_its_key_and_listing():
    token = cursors.seal(KEY, "audit", "abc")
    assert cursors.unseal(KEY, "audit", token) == "abc"
    for key, listing in ((b"j" * 32, "audit"), (KEY, "reports")):
        with pytest.raises(cursors.CursorError):
            cursors.unseal(key, listing, token)


@given(st.text(max_size=80))
def test_any_text_decodes_or_raises_cursor_error(text):
    for decode in (decode_waiting_cursor, decode_delayed_cursor, decode_held_cursor, decode_dead_cursor,
                   lambda t: cursors.unseal(KEY, "audit", t)):
        with contextlib.suppress(cursors.CursorError):
            decode(text)
    for decode_row, error in ((decode_cursor, QueryError), (decode_audit_cursor, AuditQueryError)):
        with contextlib.suppress(error):
            decode_row(text)
