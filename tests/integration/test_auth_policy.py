"""Access policy over EVERY route in app.url_map: anonymous, viewer, operator, admin (issue 6)."""

from __future__ import annotations

import uuid

import pytest

from reportsvc.web.access import PUBLIC_ENDPOINTS, ROLE_OVERRIDES, required_role

SAFE = {"GET", "HEAD", "OPTIONS"}
SAMPLE_ARGS = {
    "report_id": str(uuid.uuid4()),
    "schedule_id": str(uuid.uuid4()),
    "job_id": str(uuid.uuid4()),
    "name": "reports",
    "state": "waiting",
    "message_id": "0000",
    "worker_id": "nobody",
    "action": "requeue",
    "token_id": "1",
    "filename": "console.css",
}


def routes(app):  # type: ignore[no-untyped-def]
    """(endpoint, method, url) for every rule and method Flask would serve (HEAD/OPTIONS aside)."""
    out = []
    for rule in app.url_map.iter_rules():
        url = rule.rule
        for arg in rule.arguments:
            assert arg in SAMPLE_ARGS, f"add a sample value for <{arg}> of {rule.rule} to SAMPLE_ARGS"
            url = url.replace(f"<{arg}>", SAMPLE_ARGS[arg]).replace(f"<path:{arg}>", SAMPLE_ARGS[arg])
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            out.append((rule.endpoint, method, url))
    assert len(out) > 30
    return out


def is_public(app, endpoint: str) -> bool:  # type: ignore[no-untyped-def]
    return required_role(endpoint, "GET", metrics_public=app.extensions["reportsvc.settings"].metrics_public) is None


def test_public_allow_list_is_small_and_explicit():
    assert {"health.healthz", "health.readyz", "static", "auth.login", "index", "openapi.spec"} == PUBLIC_ENDPOINTS
    assert required_role("metrics.scrape", "GET") == "viewer"
    assert required_role("metrics.scrape", "GET", metrics_public=True) is None
    assert required_role("anything.new", "GET") == "viewer"
    assert required_role("anything.new", "PATCH") == "operator"
    assert required_role("accounts_api.list_users", "GET") == "admin"


def test_every_route_refuses_anonymous_requests(app, anon_client):
    checked = 0
    for endpoint, method, url in routes(app):
        response = anon_client.open(url, method=method)
        if is_public(app, endpoint):
            assert response.status_code not in (401, 403), (endpoint, method, url, response.status_code)
            continue
        checked += 1
        if url.startswith("/console"):
            assert response.status_code == 302, (endpoint, method, url, response.status_code)
            assert response.headers["Location"].startswith("/login?next="), (endpoint, response.headers["Location"])
        else:
            assert response.status_code == 401, (endpoint, method, url, response.status_code)
            assert response.get_json()["error"]["code"] == "unauthorized", (endpoint, method)
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert checked > 30


def test_anonymous_htmx_request_is_sent_to_login(anon_client):
    response = anon_client.get("/console/counts", headers={"HX-Request": "true",
                                                            "HX-Current-URL": "http://x/console/?status=FAILED"})
    assert response.status_code == 401
    assert response.headers["HX-Redirect"].startswith("/login?next=")


def test_metrics_can_be_made_public(anon_client, settings):
    assert anon_client.get("/metrics").status_code == 401
    settings(metrics_public=True)
    assert anon_client.get("/metrics").status_code == 200


def test_viewer_is_refused_every_mutating_route(app, viewer_client):
    checked = 0
    for endpoint, method, url in routes(app):
        # Signing yourself out (here or everywhere) is a viewer's own business: ROLE_OVERRIDES says so.
        if method in SAFE or is_public(app, endpoint) or ROLE_OVERRIDES.get((endpoint, method)) == "viewer":
            continue
        response = viewer_client.open(url, method=method, json={})
        assert response.status_code == 403, (endpoint, method, url, response.status_code)
        if not url.startswith("/console"):
            assert response.get_json()["error"]["code"] == "forbidden"
        checked += 1
    assert checked >= 15


def test_viewer_reads_everything(app, viewer_client, client):
    report_id = client.post("/reports").get_json()["id"]
    for url in ("/reports", f"/reports/{report_id}", f"/reports/{report_id}/status", "/queues", "/workers",
                "/audit", "/me", "/metrics", "/console/", f"/console/reports/{report_id}", "/console/queues",
                "/console/workers", "/console/audit", "/console/dashboard"):
        response = viewer_client.get(url)
        assert response.status_code == 200, (url, response.status_code)
    assert viewer_client.get("/me").get_json() == {"name": "test-viewer", "role": "viewer", "via": "token"}
    # Not READY yet: the viewer reaches the download view (409), it is not refused.
    assert viewer_client.get(f"/reports/{report_id}/download").status_code == 409


def test_user_and_token_management_is_admin_only(app, client, viewer_client, admin_client):
    for c in (client, viewer_client):
        assert c.get("/users").status_code == 403
        assert c.post("/tokens", json={"user": "test-viewer"}).status_code == 403
    assert admin_client.get("/users").status_code == 200
    created = admin_client.post("/users", json={"name": f"u-{uuid.uuid4().hex[:8]}", "role": "viewer"})
    assert created.status_code == 201 and len(created.get_json()["password"]) >= 16
    name = created.get_json()["name"]
    token = admin_client.post("/tokens", json={"user": name, "label": "ci"}).get_json()
    assert token["token"].startswith("rsv_")
    anon = app.test_client()
    me = anon.get("/me", headers={"Authorization": f"Bearer {token['token']}"})
    assert me.status_code == 200 and me.get_json()["name"] == name
    assert admin_client.post(f"/tokens/{token['id']}/revoke").status_code == 200
    assert anon.get("/me", headers={"Authorization": f"Bearer {token['token']}"}).status_code == 401
    assert admin_client.post("/users", json={"name": name, "role": "viewer"}).status_code == 409
    bad = admin_client.post("/users", json={"name": "x", "role": "root"})
    assert bad.status_code == 422 and bad.get_json()["error"]["details"][0]["field"] == "role"
    actions = [e["action"] for e in admin_client.get("/audit").get_json()["items"]]
    assert {"user.create", "token.create", "token.revoke"} <= set(actions)


def test_operator_can_act_and_is_recorded_as_the_actor(client, admin_client):
    created = client.post("/reports", json={"title": "mine"})
    assert created.status_code == 202
    report_id = created.get_json()["id"]
    assert client.get(f"/reports/{report_id}").get_json()["requested_by"] == "test-operator"
    assert client.delete(f"/reports/{report_id}").status_code == 200
    events = client.get(f"/reports/{report_id}").get_json()["events"]
    assert any(e["detail"].get("actor") == "test-operator" for e in events), events


def test_x_requested_by_is_not_a_credential(anon_client):
    assert anon_client.post("/reports", headers={"X-Requested-By": "test-admin"}).status_code == 401


@pytest.mark.parametrize("header", ["Bearer rsv_not-a-real-token", "Bearer ", "Basic dXNlcjpwYXNz", "rsv_x"])
def test_bad_credentials_are_401_even_on_reads(anon_client, header):
    response = anon_client.get("/reports", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"
    assert "error=" in response.headers["WWW-Authenticate"]


def test_public_routes_ignore_bad_credentials(anon_client):
    assert anon_client.get("/healthz", headers={"Authorization": "Bearer nope"}).status_code == 200


def test_operator_is_refused_403_on_every_admin_route(app, client, admin_client):
    from sqlalchemy import text

    from reportsvc.extensions import db

    def accounts_state():  # type: ignore[no-untyped-def]
        with app.app_context():
            state = db.session.execute(text(
                "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM api_tokens WHERE revoked_at IS NULL),"
                " (SELECT count(*) FROM audit_log WHERE outcome = 'ok')")).one()
            db.session.rollback()
            return tuple(state)

    admin_routes = [(e, m, u) for e, m, u in routes(app) if required_role(e, m) == "admin"]
    # enumerated from the URL map: the JSON API and the console's Users pages, reads and writes alike
    assert {e.split(".", 1)[0] for e, _, _ in admin_routes} == {"accounts_api", "console_users"}
    assert {m for _, m, _ in admin_routes} >= {"GET", "POST"} and len(admin_routes) >= 10, admin_routes
    before = accounts_state()
    for endpoint, method, url in admin_routes:
        response = client.open(url, method=method, json={"name": "intruder", "role": "admin", "user": "test-admin"})
        assert response.status_code == 403, (endpoint, method, url, response.status_code)
        if not url.startswith("/console"):
            assert response.get_json()["error"]["code"] == "forbidden", (endpoint, method)
        # an admin is let through the same route (it is the role that is refused, not the URL)
        if method == "GET":
            assert admin_client.get(url).status_code != 403, (endpoint, url)
    assert accounts_state() == before
