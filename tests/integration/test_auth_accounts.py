"""Accounts, login, sessions, tokens, CLI and log hygiene (issue 6)."""

from __future__ import annotations

import logging
import re
import uuid

from tests.conftest import TEST_PASSWORD


def _name(prefix: str = "u") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _make_user(app, role: str = "operator", password: str = TEST_PASSWORD) -> str:  # type: ignore[no-untyped-def]
    from reportsvc.state import accounts

    name = _name(role)
    with app.app_context():
        accounts.create_user(name, role, password)
    return name


def _login(c, name: str, password: str = TEST_PASSWORD, next_url: str = "/console/"):  # type: ignore[no-untyped-def]
    return c.post("/login", data={"name": name, "password": password, "next": next_url})


def _session_cookie(c):  # type: ignore[no-untyped-def]
    return c.get_cookie("reportsvc_session")


def test_console_login_flow(app, anon_client):
    name = _make_user(app, "viewer")
    first = anon_client.get("/console/queues")
    assert first.status_code == 302 and first.headers["Location"] == "/login?next=/console/queues"
    page = anon_client.get(first.headers["Location"])
    assert page.status_code == 200 and b'name="password"' in page.data
    assert _login(anon_client, name, "wrong password!").status_code == 401
    ok = _login(anon_client, name, next_url="/console/queues")
    assert ok.status_code == 303 and ok.headers["Location"] == "/console/queues"
    cookie_header = [v for k, v in ok.headers.items() if k == "Set-Cookie" and "reportsvc_session" in v][0]
    assert "HttpOnly" in cookie_header and "SameSite=Lax" in cookie_header
    assert "Secure" not in cookie_header  # http:// base URL in tests
    assert anon_client.get("/console/queues").status_code == 200
    assert anon_client.get("/me").get_json() == {"name": name, "role": "viewer", "via": "session"}
    # The browser session also downloads through the API path (GET needs viewer).
    assert anon_client.get(f"/reports/{uuid.uuid4()}/download").status_code == 404
    # Sign out is a POST; GET only asks.
    assert anon_client.get("/logout").status_code == 200
    assert anon_client.get("/console/").status_code == 200
    out = anon_client.post("/logout")
    assert out.status_code == 303
    assert anon_client.get("/console/").status_code == 302


def test_login_rotates_the_session_and_refuses_offsite_next(app, anon_client):
    name = _make_user(app, "viewer")
    with anon_client.session_transaction() as sess:
        sess["planted"] = "by-an-attacker"
    response = _login(anon_client, name, next_url="//evil.example/x")
    assert response.headers["Location"] == "/console/"
    with anon_client.session_transaction() as sess:
        assert "planted" not in sess
        assert "_user_id" in sess
    assert _login(anon_client, name, next_url="https://evil.example/").headers["Location"] == "/console/"


def test_lockout_after_repeated_failures(app, anon_client, settings):
    settings(login_lockout_threshold=3, login_lockout_seconds=60)
    name = _make_user(app, "viewer")
    for _ in range(3):
        assert _login(anon_client, name, "not the password").status_code == 401
    locked = _login(anon_client, name)  # even the right password now waits (from this address)
    assert locked.status_code == 401 and b"Wrong name or password." in locked.data  # told like a wrong one
    from reportsvc.state import accounts

    with app.app_context():  # an admin resetting the password unlocks it
        accounts.set_password(name, TEST_PASSWORD + "!")
    assert _login(anon_client, name, TEST_PASSWORD + "!").status_code == 303


def test_disabled_user_loses_session_and_tokens(app, anon_client):
    from reportsvc.state import accounts

    name = _make_user(app, "operator")
    with app.app_context():
        token = accounts.create_token(name)[1]
    assert _login(anon_client, name).status_code == 303
    assert anon_client.get("/console/").status_code == 200
    tc = app.test_client()
    assert tc.get("/reports", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    with app.app_context():
        accounts.set_disabled(name)
    assert anon_client.get("/console/").status_code == 302
    refused = tc.get("/reports", headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 401 and refused.get_json()["error"]["code"] == "unauthorized"
    assert _login(app.test_client(), name).status_code == 401  # right password, disabled: told like a wrong one


def test_revoked_token_is_refused(app):
    from reportsvc.state import accounts

    name = _make_user(app, "viewer")
    with app.app_context():
        row, token = accounts.create_token(name)
    c = app.test_client()
    assert c.get("/reports", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    with app.app_context():
        accounts.revoke_token(row.prefix)
    assert c.get("/reports", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    with app.app_context():  # only the hash is stored
        stored = accounts.list_tokens(name)[0][0]
        assert token not in (stored.token_hash, stored.prefix) and len(stored.token_hash) == 64


def test_password_is_hashed_with_argon2(app):
    from reportsvc.state import accounts

    name = _make_user(app, "viewer")
    with app.app_context():
        user = accounts.get_user(name)
        assert user is not None and user.password_hash.startswith("$argon2id$")
        assert TEST_PASSWORD not in user.password_hash


def test_cli_users_and_tokens(app):
    runner = app.test_cli_runner()
    name = _name("cli")
    created = runner.invoke(args=["users", "create", name, "--role", "operator", "--password", "a long password"])
    assert created.exit_code == 0, created.output
    assert name in runner.invoke(args=["users", "list"]).output
    out = runner.invoke(args=["tokens", "create", name, "--label", "script"])
    assert out.exit_code == 0, out.output
    token = out.output.strip().splitlines()[-1]
    assert re.fullmatch(r"rsv_[A-Za-z0-9_-]{40,}", token)
    c = app.test_client()
    made = c.post("/reports", headers={"Authorization": f"Bearer {token}"})
    assert made.status_code == 202
    assert c.get(f"/reports/{made.get_json()['id']}", headers={"Authorization": f"Bearer {token}"}
                 ).get_json()["requested_by"] == name
    listing = runner.invoke(args=["tokens", "list", name]).output
    token_id = listing.split()[0]
    assert token not in listing
    assert runner.invoke(args=["tokens", "revoke", token_id]).exit_code == 0
    assert c.get("/reports", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert runner.invoke(args=["users", "disable", name]).exit_code == 0
    assert "disabled" in runner.invoke(args=["users", "list"]).output
    dup = runner.invoke(args=["users", "create", name, "--password", "a long password"])
    assert dup.exit_code != 0 and "already exists" in dup.output
    short = runner.invoke(args=["users", "create", _name(), "--password", "short"])
    assert short.exit_code != 0 and "at least" in short.output


def test_ensure_admin_only_on_an_empty_database(app, monkeypatch):
    from reportsvc.state import accounts

    runner = app.test_cli_runner()
    out = runner.invoke(args=["ensure-admin"])
    assert out.exit_code == 0 and "nothing to do" in out.output  # the session's test accounts exist
    made: list[tuple[str, str, str]] = []
    monkeypatch.setattr(accounts, "count_users", lambda: 0)
    monkeypatch.setattr(accounts, "create_user", lambda n, r, p: made.append((n, r, p)))
    out = runner.invoke(args=["ensure-admin"])
    assert out.exit_code == 0 and made[0][:2] == ("admin", "admin")
    assert out.output.strip().splitlines()[-1] == made[0][2] and len(made[0][2]) >= 20


def test_tokens_and_passwords_never_reach_the_logs(app, caplog):
    from reportsvc.state import accounts

    caplog.set_level(logging.DEBUG)
    password = "pw-" + uuid.uuid4().hex
    runner = app.test_cli_runner()
    name = _name("log")
    assert runner.invoke(args=["users", "create", name, "--role", "operator", "--password", password]).exit_code == 0
    token = runner.invoke(args=["tokens", "create", name]).output.strip().splitlines()[-1]
    c = app.test_client()
    _login(c, name, password)
    _login(app.test_client(), name, password + "x")  # a failed attempt logs, without the password
    c.post("/reports", headers={"Authorization": f"Bearer {token}"})
    c.get("/reports", headers={"Authorization": f"Bearer {token}x"})  # a bad token
    with app.app_context():
        accounts.revoke_token(token[:12])
    text = caplog.text + "".join(str(r.args) for r in caplog.records)
    assert name in text  # the logs did capture this activity
    assert password not in text
    assert token not in text and token[12:30] not in text


def test_cli_lists_print_times_in_the_consoles_full_form(app):
    runner = app.test_cli_runner()
    name = _name("clitime")
    assert runner.invoke(args=["users", "create", name, "--password", "a long password"]).exit_code == 0
    assert _login(app.test_client(), name, "a long password").status_code == 303  # sets last_login_at
    line = next(row for row in runner.invoke(args=["users", "list"]).output.splitlines() if row.startswith(name))
    assert re.search(r"last login: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$", line), line
    assert not re.search(r"\d{4}-\d\d-\d\dT\d\d:", line), line  # never the raw ISO form
