"""reportsvc.ops.whereabouts: where a report's message is, against the real Redis broker."""

from __future__ import annotations

from reportsvc.ops.whereabouts import NO_MESSAGE, locate_report_message
from tests.conftest import wait_for, wait_status


def _message_id(app, rid: str) -> str | None:  # type: ignore[no-untyped-def]
    from reportsvc.state import queries

    with app.app_context():
        report = queries.get_report(queries.parse_report_id(rid))  # type: ignore[arg-type]
        return report.message_id if report else None


def test_waiting_positions_then_nowhere_when_done(app, client, redis_client, make_worker) -> None:  # type: ignore[no-untyped-def]
    first = client.post("/reports", json={"title": "one"}).get_json()["id"]
    second = client.post("/reports", json={"title": "two"}).get_json()["id"]
    a = locate_report_message(redis_client, _message_id(app, first))
    b = locate_report_message(redis_client, _message_id(app, second))
    assert (a.state, a.position, a.queue) == ("waiting", 0, "reports")
    assert (b.state, b.position) == ("waiting", 1)
    assert "next to run" in a.summary and "position 2" in b.summary
    make_worker()
    wait_status(client, second, {"READY"})
    # READY is written inside the actor; the message is acked (leaves the held set) only once the actor returns.
    message_id = _message_id(app, second)
    done = wait_for(lambda: (found := locate_report_message(redis_client, message_id)).state == "nowhere" and found,
                    timeout=10)
    assert "Not in any queue" in done.summary


def test_no_message_and_unknown_id(redis_client) -> None:  # type: ignore[no-untyped-def]
    assert locate_report_message(redis_client, None).state == NO_MESSAGE
    assert locate_report_message(redis_client, "never-sent").state == "nowhere"
