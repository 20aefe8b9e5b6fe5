"""The console's Users pages (admins only): list, create, role, disable/enable, password reset, API tokens,
the admin guards, the audit trail and CSRF."""

from __future__ import annotations

import re
import threading
import uuid
from typing import Any

import pytest
from sqlalchemy import text

from tests.conftest import TEST_ADMIN, TEST_PASSWORD

HX = {"HX-Request": "true"}


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _make_user(app, role: str, password: str = TEST_PASSWORD) -> str:  # type: ignore[no-untyped-def]
    from reportsvc.state import accounts

    name = _name(role)
    with app.app_context():
        accounts.create_user(name, role, password)
    return name


def _login(c, name: str, password: str = TEST_PASSWORD):  # type: ignore[no-untyped-def]
    return c.post("/login", data={"name": name, "password": password})


def _signed_in(app, role: str = "admin") -> tuple[Any, str]:  # type: ignore[no-untyped-def]
    """A test client with a console session of a fresh account of `role`."""
    name = _make_user(app, role)
    c = app.test_client()
    assert _login(c, name).status_code == 303
    return c, name


def _user(app, name: str) -> Any:  # type: ignore[no-untyped-def]
    from reportsvc.state import accounts

    with app.app_context():
        user = accounts.get_user(name)
        return None if user is None else user.to_dict()


def _audit(app, action: str) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    from reportsvc.state import audit

    with app.app_context():
        return [audit.as_dict(r) for r in audit.list_entries(limit=200, action=action).items]


def _secret(html: str) -> str:
    found = re.search(r'<code id="secret-value"[^>]*>([^<]+)</code>', html)
    assert found, "no one-time secret in the page"
    return found.group(1)


def _me(app, token: str):  # type: ignore[no-untyped-def]
    return app.test_client().get("/me", headers={"Authorization": f"Bearer {token}"})


def _token_for(app, name: str) -> str:  # type: ignore[no-untyped-def]
    from reportsvc.state import accounts

    with app.app_context():
        return accounts.create_token(name, "test")[1]


# --------------------------------------------------------------------------- access


def test_admin_sees_the_users_page_and_nav_link(app, admin_client):
    c, me = _signed_in(app)
    page = c.get("/console/users")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert '<a href="/console/users" aria-current="page">Users</a>' in html
    assert f'data-user="{TEST_ADMIN}"' in html and f'data-user="{me}"' in html
    assert "Last sign-in" in html and "Active tokens" in html
    # Your own row offers no role or disable control.
    own_row = re.search(rf'<tr id="user-\d+" data-user="{me}">.*?</tr>', html, re.S).group(0)  # type: ignore[union-attr]
    assert "Your account" in own_row and "/disable" not in own_row and "Set role" not in own_row
    assert 'data-user="test-operator"' in html
    # An admin's bearer token reaches the page too (same policy).
    assert admin_client.get("/console/users").status_code == 200
    assert 'href="/console/users"' in c.get("/console/").get_data(as_text=True)


@pytest.mark.parametrize("role", ["operator", "viewer"])
def test_operator_and_viewer_get_403_and_no_nav_link(app, role):
    c, _ = _signed_in(app, role)
    assert 'href="/console/users"' not in c.get("/console/").get_data(as_text=True)
    target = _make_user(app, "viewer")
    refused = c.get("/console/users")
    assert refused.status_code == 403 and b"needs the admin role" in refused.data
    assert c.get(f"/console/users/{target}").status_code == 403
    assert c.post(f"/console/users/{target}/disable").status_code == 403
    assert c.post("/console/users", data={"name": _name("x"), "role": "admin"}).status_code == 403
    assert _user(app, target)["disabled"] is False


def test_every_users_route_is_admin_only(app, client, viewer_client, admin_client):
    from reportsvc.web.access import required_role

    rules = [r for r in app.url_map.iter_rules() if r.endpoint.startswith("console_users.")]
    assert {r.endpoint.split(".")[1] for r in rules} >= {"index", "create", "detail", "set_role", "disable", "enable",
                                                        "reset_password", "create_token", "revoke_token"}
    target = _make_user(app, "viewer")
    for rule in rules:
        url = rule.rule.replace("<name>", target).replace("<token_id>", "1")
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            assert required_role(rule.endpoint, method) == "admin", rule.endpoint
            for c in (client, viewer_client):
                assert c.open(url, method=method).status_code == 403, (rule.endpoint, method)
    assert _user(app, target)["disabled"] is False


# --------------------------------------------------------------------------- create


def test_create_user_with_a_typed_password(app):
    c, me = _signed_in(app)
    name = _name("typed")
    created = c.post("/console/users", data={"name": name, "role": "operator", "password": "a long enough one",
                                             "confirm": "a long enough one"})
    assert created.status_code == 303 and created.headers["Location"] == "/console/users"
    page = c.get("/console/users").get_data(as_text=True)
    assert f"Created operator {name}." in page and f'data-user="{name}"' in page
    assert _user(app, name)["role"] == "operator"
    assert _login(app.test_client(), name, "a long enough one").status_code == 303
    entry = _audit(app, "user.create")[0]
    assert entry["actor"] == me and entry["target"] == f"user:{name}" and entry["outcome"] == "ok"
    assert entry["detail"] == {"via": "console", "role": "operator", "password": "typed"}


def test_create_user_with_a_generated_password_shown_once(app):
    c, _ = _signed_in(app)
    name = _name("gen")
    created = c.post("/console/users", data={"name": name, "role": "viewer"}, headers=HX)
    assert created.status_code == 201 and created.headers["HX-Trigger"] == "userCreated"
    html = created.get_data(as_text=True)
    password = _secret(html)
    assert len(password) >= 16 and "shown only this once" in html
    assert created.headers["Cache-Control"] == "no-store"
    assert password not in c.get("/console/users").get_data(as_text=True)
    assert password not in c.get(f"/console/users/{name}").get_data(as_text=True)
    assert _login(app.test_client(), name, password).status_code == 303
    # The list fragment the page re-fetches on userCreated has the new row.
    fragment = c.get("/console/users", headers=HX).get_data(as_text=True)
    assert fragment.startswith('<section id="user-list"') and f'data-user="{name}"' in fragment


def test_create_user_without_javascript_keeps_the_generated_password_on_the_page(app):
    c, _ = _signed_in(app)
    name = _name("nojs")
    created = c.post("/console/users", data={"name": name, "role": "admin", "password": "", "confirm": ""})
    assert created.status_code == 201
    assert _login(app.test_client(), name, _secret(created.get_data(as_text=True))).status_code == 303


@pytest.mark.parametrize(("form", "field", "message"), [
    ({"name": "has space", "role": "viewer"}, "name", "names are 1-64 letters"),
    ({"name": "", "role": "viewer"}, "name", "names are 1-64 letters"),
    ({"name": "x" * 65, "role": "viewer"}, "name", "names are 1-64 letters"),
    ({"role": "root"}, "role", "role must be one of viewer, operator, admin"),
    ({"role": "viewer", "password": "short", "confirm": "short"}, "password", "at least 10 characters"),
    ({"role": "viewer", "password": "p" * 1025, "confirm": "p" * 1025}, "password", "at most 1024"),
    ({"role": "viewer", "password": "long enough 1", "confirm": "long enough 2"}, "confirm", "differ"),
    ({"role": "viewer", "password": "", "confirm": "only the repeat"}, "password", "at least 10 characters"),
    ({"name": TEST_ADMIN, "role": "viewer"}, "name", "already exists"),
])
@pytest.mark.parametrize("htmx", [False, True])
def test_bad_input_is_a_422_with_the_error_beside_the_field_and_creates_nothing(app, form, field, message, htmx):
    from reportsvc.state import accounts

    c, _ = _signed_in(app)
    data = {"name": _name("bad"), **form}
    with app.app_context():
        before = accounts.count_users()
    refused = c.post("/console/users", data=data, headers=HX if htmx else {})
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    error = re.search(rf'<span class="field__error" id="new-{field}-error">([^<]*)</span>', html)
    assert error and message in error.group(1).replace("&#39;", "'"), html
    assert f'id="new-{field}"' in html and 'aria-invalid="true"' in html
    assert "The account was not created" in html
    assert ('<div id="user-create">' in html) and (html.lstrip().startswith("<!doctype") is not htmx)
    assert "p" * 20 not in html and "long enough" not in html  # passwords are never echoed back
    with app.app_context():
        assert accounts.count_users() == before
    assert _audit(app, "user.create") == []


# --------------------------------------------------------------------------- role, disable, enable


def test_role_change_swaps_the_row_and_takes_effect(app):
    c, me = _signed_in(app)
    name = _make_user(app, "viewer")
    token = _token_for(app, name)
    assert _me(app, token).get_json()["role"] == "viewer"
    changed = c.post(f"/console/users/{name}/role", data={"role": "operator", "view": "row"}, headers=HX)
    assert changed.status_code == 200
    html = changed.get_data(as_text=True)
    assert html.lstrip().startswith('<tr id="user-') and 'data-role="operator"' in html
    assert f"{name} is now operator." in html and 'hx-swap-oob="true"' in html
    assert _user(app, name)["role"] == "operator"
    assert _me(app, token).get_json()["role"] == "operator"
    entry = _audit(app, "user.set_role")[0]
    assert (entry["actor"], entry["target"], entry["outcome"]) == (me, f"user:{name}", "ok")
    assert entry["detail"] == {"via": "console", "from": "viewer", "to": "operator"}
    # Without JavaScript: a redirect back to where the form was.
    plain = c.post(f"/console/users/{name}/role", data={"role": "admin", "view": "detail"})
    assert plain.status_code == 303 and plain.headers["Location"] == f"/console/users/{name}"
    assert _user(app, name)["role"] == "admin"
    bad = c.post(f"/console/users/{name}/role", data={"role": "root", "view": "row"}, headers=HX)
    assert bad.status_code == 422 and "role must be one of" in bad.get_data(as_text=True)
    assert _user(app, name)["role"] == "admin"


def test_disable_ends_sessions_and_tokens_and_enable_restores_them(app):
    c, me = _signed_in(app)
    user_client, name = _signed_in(app, "operator")
    token = _token_for(app, name)
    assert user_client.get("/console/").status_code == 200
    disabled = c.post(f"/console/users/{name}/disable", data={"view": "row"}, headers=HX)
    assert disabled.status_code == 200 and 'data-state="disabled"' in disabled.get_data(as_text=True)
    assert _user(app, name)["disabled"] is True
    assert user_client.get("/console/").status_code == 302  # the session ended
    assert _me(app, token).status_code == 401
    refused = _login(app.test_client(), name)
    assert refused.status_code == 401 and b"Wrong name or password." in refused.data  # told like a wrong one
    enabled = c.post(f"/console/users/{name}/enable", data={"view": "detail"}, headers=HX)
    assert enabled.status_code == 200
    assert enabled.get_data(as_text=True).lstrip().startswith('<div id="user-detail"')
    assert _me(app, token).status_code == 200
    assert _login(app.test_client(), name).status_code == 303
    assert [(e["actor"], e["target"]) for e in _audit(app, "user.disable")] == [(me, f"user:{name}")]
    assert [(e["actor"], e["target"]) for e in _audit(app, "user.enable")] == [(me, f"user:{name}")]
    # Repeating a state change changes nothing (and ends no sessions).
    again = c.post(f"/console/users/{name}/enable", data={"view": "row"}, headers=HX)
    assert again.status_code == 200 and "already enabled" in again.get_data(as_text=True)
    assert len(_audit(app, "user.enable")) == 1


def test_an_admin_cannot_disable_or_demote_themself(app):
    c, me = _signed_in(app)
    for url, data, action in ((f"/console/users/{me}/disable", {"view": "row"}, "user.disable"),
                              (f"/console/users/{me}/role", {"role": "operator", "view": "detail"}, "user.set_role")):
        refused = c.post(url, data=data, headers=HX)
        assert refused.status_code == 409, url
        assert "you cannot" in refused.get_data(as_text=True)
        entry = _audit(app, action)[0]
        assert (entry["actor"], entry["outcome"]) == (me, "refused")
    assert _user(app, me)["role"] == "admin" and _user(app, me)["disabled"] is False
    assert c.get("/console/users").status_code == 200  # still signed in, still admin
    # The same guard answers the admin JSON API (it lives in accounts.py).
    token = _token_for(app, me)
    api = app.test_client().post(f"/users/{me}/disable", headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 409 and api.get_json()["error"]["code"] == "conflict"
    entry = _audit(app, "user.disable")[0]  # newest first: the API's refusal is audited like the console's
    assert (entry["actor"], entry["outcome"], entry["detail"]["via"]) == (me, "refused", "api")


@pytest.fixture
def only_admins(app):  # type: ignore[no-untyped-def]
    """only_admins(*names): disable every other enabled admin for this test; re-enabled afterwards."""
    from reportsvc.extensions import db
    from reportsvc.state import accounts

    parked: list[str] = []

    def park(*keep: str) -> None:
        with app.app_context():
            rows = db.session.execute(text(
                "UPDATE users SET disabled = true WHERE role = 'admin' AND NOT disabled AND NOT (name = ANY(:keep)) "
                "RETURNING name"), {"keep": list(keep)}).scalars().all()
            db.session.commit()
            parked.extend(rows)

    yield park
    with app.app_context():
        db.session.execute(text("UPDATE users SET disabled = false WHERE name = ANY(:names)"), {"names": parked})
        db.session.commit()
        accounts.clear_token_cache()


def test_the_last_enabled_admin_cannot_be_disabled_or_demoted(app, only_admins):
    from reportsvc.state import accounts

    solo = _make_user(app, "admin")
    only_admins(solo)
    with app.app_context():
        for change in (lambda: accounts.set_disabled(solo, True), lambda: accounts.set_role(solo, "operator")):
            with pytest.raises(accounts.AccountConflict, match="last enabled admin"):
                change()
        assert accounts.get_user(solo).role == "admin" and not accounts.get_user(solo).disabled  # type: ignore[union-attr]
    # The CLI shares the guard.
    result = app.test_cli_runner().invoke(args=["users", "disable", solo])
    assert result.exit_code != 0
    assert "last enabled admin" in result.output + (getattr(result, "stderr", "") or "")
    # With a second admin, one of them may go.
    other = _make_user(app, "admin")
    with app.app_context():
        accounts.set_role(solo, "operator")
        with pytest.raises(accounts.AccountConflict):
            accounts.set_disabled(other, True)


def test_two_admins_demoting_each_other_at_once_leave_one_admin(app, only_admins):
    from reportsvc.state import accounts

    first, second = _make_user(app, "admin"), _make_user(app, "admin")
    only_admins(first, second)
    barrier = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def demote(target: str, actor: str) -> None:
        with app.app_context():
            barrier.wait()
            try:
                accounts.set_role(target, "viewer", actor=actor)
                outcomes[target] = "demoted"
            except accounts.AccountConflict:
                outcomes[target] = "refused"

    pairs = ((first, second), (second, first))
    threads = [threading.Thread(target=demote, args=pair) for pair in pairs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(outcomes.values()) == ["demoted", "refused"], outcomes
    assert sorted(_user(app, n)["role"] for n in (first, second)) == ["admin", "viewer"]


# --------------------------------------------------------------------------- passwords


def test_reset_password_generated_once_ends_the_users_sessions(app):
    c, me = _signed_in(app)
    user_client, name = _signed_in(app, "viewer")
    reset = c.post(f"/console/users/{name}/password", data={"view": "detail"}, headers=HX)
    assert reset.status_code == 200
    password = _secret(reset.get_data(as_text=True))
    assert user_client.get("/console/").status_code == 302
    assert _login(app.test_client(), name).status_code == 401  # the old one no longer works
    assert _login(app.test_client(), name, password).status_code == 303
    assert password not in c.get(f"/console/users/{name}").get_data(as_text=True)
    entry = _audit(app, "user.set_password")[0]
    assert (entry["actor"], entry["target"], entry["detail"]) == (me, f"user:{name}",
                                                                  {"via": "console", "password": "generated"})


def test_reset_password_typed_and_bad_input(app):
    c, _ = _signed_in(app)
    name = _make_user(app, "viewer")
    mismatch = c.post(f"/console/users/{name}/password", data={"password": "first password!", "confirm": "other"})
    assert mismatch.status_code == 422 and 'id="confirm-error"' in mismatch.get_data(as_text=True)
    short = c.post(f"/console/users/{name}/password", data={"password": "short", "confirm": "short"}, headers=HX)
    assert short.status_code == 422 and "at least 10 characters" in short.get_data(as_text=True)
    assert _login(app.test_client(), name).status_code == 303  # unchanged so far
    new = {"password": "the new password", "confirm": "the new password"}
    typed = c.post(f"/console/users/{name}/password", data=new)
    assert typed.status_code == 303
    assert _login(app.test_client(), name, "the new password").status_code == 303


def test_resetting_your_own_password_keeps_this_session(app):
    c, me = _signed_in(app)
    other = app.test_client()
    assert _login(other, me).status_code == 303
    assert c.post(f"/console/users/{me}/password", data={"password": "my new password", "confirm": "my new password"},
                  headers=HX).status_code == 200
    assert c.get("/console/users").status_code == 200
    assert other.get("/console/users").status_code == 302


# --------------------------------------------------------------------------- tokens


def test_token_is_shown_once_authenticates_and_revoking_stops_it(app):
    c, me = _signed_in(app)
    name = _make_user(app, "operator")
    created = c.post(f"/console/users/{name}/tokens", data={"label": "ci", "view": "detail"}, headers=HX)
    assert created.status_code == 201
    html = created.get_data(as_text=True)
    token = _secret(html)
    assert token.startswith("rsv_") and "New API token" in html
    assert _me(app, token).get_json() == {"name": name, "role": "operator", "via": "token"}
    page = c.get(f"/console/users/{name}").get_data(as_text=True)
    assert token not in page and token[:12] in page and ">ci<" in page
    row = re.search(r'<tr id="user-\d+" data-user="' + re.escape(name) + r'">.*?</tr>',
                    c.get("/console/users").get_data(as_text=True), re.S).group(0)  # type: ignore[union-attr]
    assert '<td data-label="Active tokens" class="num">1</td>' in row
    token_id = int(re.search(r'data-token-id="(\d+)"', page).group(1))  # type: ignore[union-attr]
    revoked = c.post(f"/console/users/{name}/tokens/{token_id}/revoke", data={"view": "detail"}, headers=HX)
    assert revoked.status_code == 200 and "Revoked" in revoked.get_data(as_text=True)
    assert _me(app, token).status_code == 401
    created_entry, revoked_entry = _audit(app, "token.create")[0], _audit(app, "token.revoke")[0]
    assert (created_entry["actor"], created_entry["target"]) == (me, f"user:{name}")
    assert created_entry["detail"]["token_id"] == token_id and created_entry["detail"]["prefix"] == token[:12]
    assert (revoked_entry["actor"], revoked_entry["target"]) == (me, f"token:{token_id}")
    assert token not in str(created_entry) and token not in str(revoked_entry)


def test_token_of_another_account_cannot_be_revoked_through_this_one(app):
    c, _ = _signed_in(app)
    owner, other = _make_user(app, "viewer"), _make_user(app, "viewer")
    from reportsvc.state import accounts

    with app.app_context():
        row, token = accounts.create_token(owner, "mine")
        token_id = row.id
    assert c.post(f"/console/users/{other}/tokens/{token_id}/revoke").status_code == 404
    assert c.post(f"/console/users/{other}/tokens/not-a-number/revoke").status_code == 404
    assert _me(app, token).status_code == 200
    assert _audit(app, "token.revoke") == []


def test_bad_token_label_is_a_422(app):
    c, _ = _signed_in(app)
    name = _make_user(app, "viewer")
    refused = c.post(f"/console/users/{name}/tokens", data={"label": "l" * 101})
    assert refused.status_code == 422 and 'id="label-error"' in refused.get_data(as_text=True)
    assert "rsv_" not in refused.get_data(as_text=True)
    with app.app_context():
        from reportsvc.state import accounts

        assert accounts.list_tokens(name) == []


def test_unknown_account_is_a_404_page(app):
    c, _ = _signed_in(app)
    missing = c.get("/console/users/nobody-here")
    assert missing.status_code == 404 and b"There is no account named" in missing.data
    assert c.post("/console/users/nobody-here/disable").status_code == 404


# --------------------------------------------------------------------------- CSRF


@pytest.fixture
def csrf_on(app, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)


def test_forms_need_the_csrf_token(app, csrf_on):
    c = app.test_client()
    admin = _make_user(app, "admin")
    login_page = c.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', login_page).group(1)  # type: ignore[union-attr]
    assert c.post("/login", data={"name": admin, "password": TEST_PASSWORD, "csrf_token": token}).status_code == 303
    target = _make_user(app, "viewer")
    name = _name("csrf")
    assert c.post("/console/users", data={"name": name, "role": "viewer"}).status_code == 400
    assert c.post("/console/users", data={"name": name, "role": "viewer"},
                  headers={**HX, "X-CSRFToken": "forged"}).status_code == 400
    assert c.post(f"/console/users/{target}/disable").status_code == 400
    assert c.post(f"/console/users/{target}/tokens").status_code == 400
    assert _user(app, name) is None and _user(app, target)["disabled"] is False
    page = c.get("/console/users").get_data(as_text=True)
    form_token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    ok = c.post("/console/users", data={"name": name, "role": "viewer", "csrf_token": form_token}, headers=HX)
    assert ok.status_code == 201 and _user(app, name) is not None
    hx = re.search(r"hx-headers='([^']+)'", page).group(1).replace("&#34;", '"')  # type: ignore[union-attr]
    header_token = re.search(r'"X-CSRFToken": ?"([^"]+)"', hx).group(1)  # type: ignore[union-attr]
    disabled = c.post(f"/console/users/{target}/disable", data={"view": "row"},
                      headers={**HX, "X-CSRFToken": header_token})
    assert disabled.status_code == 200 and _user(app, target)["disabled"] is True
