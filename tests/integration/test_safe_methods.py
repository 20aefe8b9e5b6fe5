"""HEAD and OPTIONS change nothing on any route of app.url_map: no cookie set, no session ended, no row
written; only POST signs in or out, and the sign-in limits count every method but a plain GET."""

from __future__ import annotations

import uuid

from sqlalchemy import text

from tests.conftest import TEST_PASSWORD
from tests.integration.test_auth_policy import SAMPLE_ARGS


def _admin(app) -> str:  # type: ignore[no-untyped-def]
    from reportsvc.state import accounts

    name = f"head-{uuid.uuid4().hex[:8]}"
    with app.app_context():
        accounts.create_user(name, "admin", TEST_PASSWORD)
    return name


def _snapshot(app) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """Row counts of every table, and the sign-in columns of every account."""
    from reportsvc.extensions import db

    with app.app_context():
        tables = db.session.execute(text(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename <> 'alembic_version'"
        )).scalars().all()
        out: dict[str, object] = {t: db.session.execute(text(f'SELECT count(*) FROM "{t}"')).scalar_one()
                                  for t in tables}
        out["users"] = db.session.execute(text(
            "SELECT name, failed_logins, locked_until, last_login_at, auth_epoch, disabled, role FROM users ORDER BY id"
        )).all()
        out["reports"] = db.session.execute(text("SELECT id, status FROM report_requests ORDER BY id")).all()
    return out


def _urls(app, report_id: str) -> list[str]:  # type: ignore[no-untyped-def]
    args = {**SAMPLE_ARGS, "report_id": report_id}
    urls = []
    for rule in app.url_map.iter_rules():
        url = rule.rule
        for arg in rule.arguments:
            assert arg in args, f"add a sample value for <{arg}> of {rule.rule}"
            url = url.replace(f"<{arg}>", args[arg]).replace(f"<path:{arg}>", args[arg])
        urls.append(url)
    return urls


def test_head_and_options_change_nothing_on_any_route(app, client):
    name = _admin(app)
    signed_in = app.test_client()
    assert signed_in.post("/login", data={"name": name, "password": TEST_PASSWORD}).status_code == 303
    cookie = signed_in.get_cookie("reportsvc_session").value
    report_id = client.post("/reports", json={}).get_json()["id"]
    before = _snapshot(app)
    anonymous = app.test_client()
    form = {"name": name, "password": TEST_PASSWORD, "next": "/console/"}
    tried = 0
    for url in _urls(app, report_id):
        for method in ("HEAD", "OPTIONS"):
            for who in (signed_in, anonymous):
                response = who.open(url, method=method, data=form)
                assert "Set-Cookie" not in response.headers, (method, url, response.headers.get("Set-Cookie"))
                assert response.status_code < 500, (method, url, response.status_code)
                tried += 1
    assert tried > 100
    assert _snapshot(app) == before
    assert signed_in.get_cookie("reportsvc_session").value == cookie
    assert signed_in.get("/me").get_json()["name"] == name  # HEAD /logout ended nothing
    assert anonymous.get_cookie("reportsvc_session") is None  # HEAD /login with the right password: no session
    assert anonymous.get("/me").status_code == 401


def test_head_login_with_the_right_password_sets_no_cookie_and_post_still_signs_in(app, anon_client):
    name = _admin(app)
    head = anon_client.open("/login", method="HEAD", data={"name": name, "password": TEST_PASSWORD})
    assert head.status_code == 200 and "Set-Cookie" not in head.headers
    assert anon_client.get("/me").status_code == 401
    post = anon_client.post("/login", data={"name": name, "password": TEST_PASSWORD})
    assert post.status_code == 303 and anon_client.get("/me").status_code == 200


def test_sign_in_limits_count_head_requests_too(app, settings):
    settings(rate_limit_login_ip="3 per 30 seconds", rate_limit_login_account="100 per minute")
    c = app.test_client()
    codes = [c.open("/login", method="HEAD", data={"name": "nobody", "password": "wrong"}).status_code
             for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    assert c.post("/login", data={"name": "nobody", "password": "wrong"}).status_code == 429
    assert c.get("/login").status_code == 200  # looking at the page is not an attempt
