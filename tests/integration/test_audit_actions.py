"""Every operator action reaches audit_log: report cancel / retry (API and console, refusals included)
and the CLI's account and token changes (actor "cli"), never with a password or a token in them."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from sqlalchemy import text

from tests.conftest import TEST_OPERATOR

HX = {"HX-Request": "true"}
PASSWORD = "a long cli password"


def _rows(app, action: str | None = None) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    """Audit entries oldest first, optionally of one action."""
    from reportsvc.state import audit

    with app.app_context():
        return [audit.as_dict(r) for r in reversed(audit.list_entries(limit=200, action=action).items)]


def _pending(client) -> str:  # type: ignore[no-untyped-def]
    """A PENDING report (no worker runs in these tests, so it stays PENDING)."""
    return client.post("/reports", json={"title": "audit me"}).get_json()["id"]


def _set_status(app, rid: str, status: str) -> None:  # type: ignore[no-untyped-def]
    from reportsvc.extensions import db

    with app.app_context():
        db.session.execute(text("UPDATE report_requests SET status = :s WHERE id = :id"), {"s": status, "id": rid})
        db.session.commit()


def _only(app, action: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    rows = _rows(app, action)
    assert len(rows) == 1, rows
    return rows[0]


# --------------------------------------------------------------------------- JSON API


def test_api_cancel_is_audited(app, client) -> None:  # type: ignore[no-untyped-def]
    rid = _pending(client)
    assert client.delete(f"/reports/{rid}").status_code == 200
    row = _only(app, "report.cancel")
    assert (row["actor"], row["target"], row["outcome"]) == (TEST_OPERATOR, f"report:{rid}", "ok")
    assert row["detail"] == {"via": "api", "status": "CANCELLED"}
    # Repeating it is still a 200, and its row says nothing changed.
    assert client.delete(f"/reports/{rid}").status_code == 200
    assert [r["outcome"] for r in _rows(app, "report.cancel")] == ["ok", "noop"]


def test_api_refused_cancel_is_audited(app, client) -> None:  # type: ignore[no-untyped-def]
    rid = _pending(client)
    _set_status(app, rid, "READY")
    assert client.delete(f"/reports/{rid}").status_code == 409
    row = _only(app, "report.cancel")
    assert (row["actor"], row["outcome"], row["detail"]["status"]) == (TEST_OPERATOR, "refused", "READY")


def test_api_retry_is_audited_ok_and_refused(app, client) -> None:  # type: ignore[no-untyped-def]
    rid = _pending(client)
    _set_status(app, rid, "FAILED")
    assert client.post(f"/reports/{rid}/retry").status_code == 202
    assert client.post(f"/reports/{rid}/retry").status_code == 409  # PENDING now: refused
    rows = _rows(app, "report.retry")
    assert [(r["actor"], r["target"], r["outcome"]) for r in rows] == [
        (TEST_OPERATOR, f"report:{rid}", "ok"), (TEST_OPERATOR, f"report:{rid}", "refused")]
    assert rows[0]["detail"] == {"via": "api", "status": "PENDING"}
    assert rows[1]["detail"]["status"] == "PENDING"


def test_unknown_report_writes_no_audit_row(app, client) -> None:  # type: ignore[no-untyped-def]
    assert client.delete(f"/reports/{uuid.uuid4()}").status_code == 404
    assert client.post("/reports/not-a-uuid/retry").status_code == 400
    assert _rows(app) == []


def test_creating_a_report_is_in_its_timeline_not_the_audit_log(app, client) -> None:  # type: ignore[no-untyped-def]
    rid = _pending(client)
    events = client.get(f"/reports/{rid}").get_json()["events"]
    assert events[0]["kind"] == "created" and events[0]["detail"]["requested_by"] == TEST_OPERATOR
    assert _rows(app) == []


# --------------------------------------------------------------------------- console


def test_console_cancel_is_audited_ok_and_refused(app, client) -> None:  # type: ignore[no-untyped-def]
    rid = _pending(client)
    assert client.post(f"/console/reports/{rid}/cancel", data={"view": "row"}, headers=HX).status_code == 200
    other = _pending(client)
    _set_status(app, other, "READY")
    assert client.post(f"/console/reports/{other}/cancel", data={"view": "detail"}, headers=HX).status_code == 409
    running = _pending(client)
    _set_status(app, running, "RUNNING")
    answer = client.post(f"/console/reports/{running}/cancel", data={"view": "detail"}, headers=HX)
    assert answer.status_code == 200 and "Cancelling…" in answer.get_data(as_text=True)
    rows = _rows(app, "report.cancel")
    assert [(r["actor"], r["target"], r["outcome"]) for r in rows] == [
        (TEST_OPERATOR, f"report:{rid}", "ok"), (TEST_OPERATOR, f"report:{other}", "refused"),
        (TEST_OPERATOR, f"report:{running}", "ok")]
    assert rows[0]["detail"]["via"] == "console" and rows[1]["detail"]["status"] == "READY"
    assert rows[2]["detail"] == {"via": "console", "status": "RUNNING", "cancel_requested": True}
    page = client.get("/console/audit").get_data(as_text=True)  # where README sends operators to look
    assert "report.cancel" in page and f"report:{other}" in page


def test_console_retry_is_audited_ok_and_refused(app, client) -> None:  # type: ignore[no-untyped-def]
    rid = _pending(client)
    _set_status(app, rid, "FAILED")
    assert client.post(f"/console/reports/{rid}/retry", data={"view": "detail"}, headers=HX).status_code == 200
    # Without JS the refusal is a redirect back; it is audited all the same.
    assert client.post(f"/console/reports/{rid}/retry", data={"view": "detail"}).status_code == 303
    rows = _rows(app, "report.retry")
    assert [(r["actor"], r["outcome"], r["detail"]["via"]) for r in rows] == [
        (TEST_OPERATOR, "ok", "console"), (TEST_OPERATOR, "refused", "console")]


# --------------------------------------------------------------------------- CLI


def _invoke(app, *args: str) -> str:  # type: ignore[no-untyped-def]
    result = app.test_cli_runner().invoke(args=list(args))
    assert result.exit_code == 0, result.output
    return str(result.output)


def _cli_name() -> str:
    return f"cli-{uuid.uuid4().hex[:8]}"


def test_cli_account_changes_are_audited_as_cli(app) -> None:  # type: ignore[no-untyped-def]
    name = _cli_name()
    _invoke(app, "users", "create", name, "--role", "operator", "--password", PASSWORD)
    _invoke(app, "users", "set-role", name, "viewer")
    _invoke(app, "users", "set-password", name, "--password", PASSWORD + " 2")
    _invoke(app, "users", "disable", name)
    _invoke(app, "users", "enable", name)
    created = _invoke(app, "tokens", "create", name, "--label", "script").strip().splitlines()
    token_id, token = created[0].split()[1], created[-1]  # "token <id> (<prefix>…) for <name>; ..." then the token
    _invoke(app, "tokens", "revoke", token_id)
    _invoke(app, "users", "list")  # reads change nothing and are not audited

    rows = _rows(app)
    assert [(r["actor"], r["action"], r["target"], r["outcome"]) for r in rows] == [
        ("cli", "user.create", f"user:{name}", "ok"),
        ("cli", "user.set_role", f"user:{name}", "ok"),
        ("cli", "user.set_password", f"user:{name}", "ok"),
        ("cli", "user.disable", f"user:{name}", "ok"),
        ("cli", "user.enable", f"user:{name}", "ok"),
        ("cli", "token.create", f"user:{name}", "ok"),
        ("cli", "token.revoke", f"token:{token_id}", "ok"),
    ]
    assert rows[0]["detail"] == {"via": "cli", "role": "operator", "password": "typed"}
    assert rows[1]["detail"] == {"via": "cli", "from": "operator", "to": "viewer"}
    assert rows[5]["detail"]["token_id"] == int(token_id)
    # Never a secret: neither password nor the token appears anywhere in the trail.
    trail = json.dumps(rows)
    assert PASSWORD not in trail and token not in trail and token[12:] not in trail


def test_cli_generated_password_is_not_audited(app) -> None:  # type: ignore[no-untyped-def]
    name = _cli_name()
    password = _invoke(app, "users", "create", name, "--generate").strip().splitlines()[-1]
    row = _only(app, "user.create")
    assert row["actor"] == "cli" and row["detail"]["password"] == "generated"
    assert password not in json.dumps(row)


def test_cli_failure_without_a_change_writes_nothing(app) -> None:  # type: ignore[no-untyped-def]
    result = app.test_cli_runner().invoke(args=["users", "disable", _cli_name()])  # no such account
    assert result.exit_code != 0
    assert _rows(app) == []


@pytest.fixture
def sole_admin(app):  # type: ignore[no-untyped-def]
    """A new admin that is the only enabled one for this test; the others are re-enabled afterwards."""
    from reportsvc.extensions import db
    from reportsvc.state import accounts

    name = _cli_name()
    with app.app_context():
        accounts.create_user(name, "admin", PASSWORD)
        parked = db.session.execute(text(
            "UPDATE users SET disabled = true WHERE role = 'admin' AND NOT disabled AND name <> :keep "
            "RETURNING name"), {"keep": name}).scalars().all()
        db.session.commit()
    yield name
    with app.app_context():
        db.session.execute(text("UPDATE users SET disabled = false WHERE name = ANY(:names)"), {"names": parked})
        db.session.commit()
        accounts.clear_token_cache()


def test_cli_refused_admin_guard_is_audited(app, sole_admin) -> None:  # type: ignore[no-untyped-def]
    result = app.test_cli_runner().invoke(args=["users", "disable", sole_admin])
    assert result.exit_code != 0 and "last enabled admin" in result.output
    row = _only(app, "user.disable")
    assert (row["actor"], row["target"], row["outcome"]) == ("cli", f"user:{sole_admin}", "refused")
    assert "last enabled admin" in row["detail"]["reason"]
