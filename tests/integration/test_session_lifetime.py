"""Sessions end: SESSION_LIFETIME_HOURS after sign-in however active, and on "sign out everywhere" (your own
account from the account menu, any account for an admin)."""

from __future__ import annotations

import uuid

from sqlalchemy import text

from tests.conftest import TEST_ADMIN, TEST_PASSWORD


def _user(app, role: str = "operator") -> str:  # type: ignore[no-untyped-def]
    from reportsvc.state import accounts

    name = f"sess-{uuid.uuid4().hex[:8]}"
    with app.app_context():
        accounts.create_user(name, role, TEST_PASSWORD)
    return name


def _signed_in(app, name: str):  # type: ignore[no-untyped-def]
    c = app.test_client()
    assert c.post("/login", data={"name": name, "password": TEST_PASSWORD}).status_code == 303
    assert c.get("/console/").status_code == 200
    return c


def test_a_session_older_than_the_lifetime_ends_however_active(app, settings):
    settings(session_lifetime_hours=2)
    c = _signed_in(app, _user(app))
    with c.session_transaction() as s:  # signed in 1 h 59 min ago, active all along
        s["signed_in_at"] -= 2 * 3600 - 60
    assert c.get("/console/").status_code == 200
    with c.session_transaction() as s:  # 2 h 1 min ago
        s["signed_in_at"] -= 120
    r = c.get("/console/")
    assert r.status_code == 302 and r.headers["Location"].startswith("/login")
    assert c.get("/me").status_code == 401


def test_a_session_without_a_sign_in_time_is_not_accepted(app):
    c = _signed_in(app, _user(app))
    with c.session_transaction() as s:
        del s["signed_in_at"]
    assert c.get("/me").status_code == 401


def test_sign_out_everywhere_from_the_account_menu_ends_every_session_of_the_account(app):
    name = _user(app)
    laptop, phone = _signed_in(app, name), _signed_in(app, name)
    page = laptop.get("/console/").get_data(as_text=True)
    assert 'action="/logout/everywhere"' in page
    r = laptop.post("/logout/everywhere")
    assert r.status_code == 303 and r.headers["Location"].startswith("/login")
    assert laptop.get("/me").status_code == 401 and phone.get("/me").status_code == 401
    assert _signed_in(app, name).get("/me").status_code == 200  # signing in again works
    from reportsvc.extensions import db

    with app.app_context():
        row = db.session.execute(text("SELECT actor, action, target FROM audit_log WHERE action = 'user.end_sessions'"
                                      )).one()
    assert tuple(row) == (name, "user.end_sessions", f"user:{name}")


def test_an_admin_signs_any_account_out_everywhere_and_stays_signed_in(app):
    name = _user(app, "viewer")
    victim = _signed_in(app, name)
    admin = _signed_in(app, _user(app, "admin"))
    page = admin.get(f"/console/users/{name}").get_data(as_text=True)
    assert f'action="/console/users/{name}/sessions/end"' in page
    assert admin.post(f"/console/users/{name}/sessions/end").status_code in (200, 303)
    assert victim.get("/me").status_code == 401
    assert admin.get("/me").status_code == 200
    refused = victim.post("/logout/everywhere")  # no session left: nothing to end, nothing ended
    assert refused.status_code in (302, 401)
    operator = _signed_in(app, _user(app, "operator"))
    assert operator.post(f"/console/users/{name}/sessions/end").status_code == 403


def _audit_rows(app, name: str) -> list[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    from reportsvc.extensions import db

    with app.app_context():
        return [tuple(r) for r in db.session.execute(text(
            "SELECT actor, outcome, detail->>'via' FROM audit_log WHERE action = 'user.end_sessions'"
            " AND target = :t ORDER BY id"), {"t": f"user:{name}"})]


def test_an_admin_signs_any_account_out_everywhere_over_the_api(app, admin_client):
    name = _user(app, "operator")
    victim = _signed_in(app, name)
    r = admin_client.post(f"/users/{name}/sessions/end")
    assert r.status_code == 200 and r.get_json()["name"] == name
    assert victim.get("/me").status_code == 401
    assert _audit_rows(app, name) == [(TEST_ADMIN, "ok", "api")]
    missing = admin_client.post("/users/nobody-here/sessions/end")
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "not_found"
    assert _audit_rows(app, "nobody-here") == []


def test_a_non_admin_cannot_sign_anyone_out_over_the_api(app, client, viewer_client):
    name = _user(app, "viewer")
    victim = _signed_in(app, name)
    for caller in (client, viewer_client):  # an operator, a viewer
        r = caller.post(f"/users/{name}/sessions/end")
        assert r.status_code == 403 and r.get_json()["error"]["code"] == "forbidden"
    assert victim.get("/me").status_code == 200
    assert _audit_rows(app, name) == []


def test_flask_users_sign_out_ends_every_session_of_the_account(app):
    name = _user(app, "admin")
    laptop, phone = _signed_in(app, name), _signed_in(app, name)
    result = app.test_cli_runner().invoke(args=["users", "sign-out", name])
    assert result.exit_code == 0 and f"signed {name} out everywhere" in result.output
    assert laptop.get("/me").status_code == 401 and phone.get("/me").status_code == 401
    assert _audit_rows(app, name) == [("cli", "ok", "cli")]
    unknown = app.test_cli_runner().invoke(args=["users", "sign-out", "nobody-here"])
    assert unknown.exit_code != 0 and "no account named 'nobody-here'" in unknown.output
    assert _audit_rows(app, "nobody-here") == []
