"""The costly operator calls share one per-account budget (RATE_LIMIT_OPERATOR_ACTIONS): 429 + Retry-After,
per account, on the API and the console alike."""

from __future__ import annotations

import dataclasses


def test_costly_operator_calls_are_limited_per_account(app, client, admin_client, settings):
    guard = dataclasses.replace(app.extensions["reportsvc.settings"].guard,
                                rate_limit_operator_actions="3 per 30 seconds")
    settings(guard=guard)
    codes = [client.post("/queues/reports/dead/count", json={}).status_code for _ in range(3)]
    assert all(code < 400 for code in codes), codes
    limited = client.post("/queues/reports/dead/count", json={})
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    assert limited.get_json()["error"]["code"] == "rate_limited"
    # One budget for every costly call of the account: a worker release and the console's count are refused too.
    assert client.post("/workers/nobody/release", json={}).status_code == 429
    assert client.post("/console/queues/reports/dead-count").status_code == 429
    # Another account has its own budget.
    assert admin_client.post("/queues/reports/dead/count", json={}).status_code < 400


def test_cheap_reads_are_not_counted(app, client, settings):
    guard = dataclasses.replace(app.extensions["reportsvc.settings"].guard,
                                rate_limit_operator_actions="1 per 30 seconds")
    settings(guard=guard)
    for _ in range(5):
        assert client.get("/queues/reports/dead").status_code == 200
    assert client.post("/queues/reports/dead/count", json={}).status_code < 400


def test_audit_filters_read_an_index_not_the_whole_table(app):
    from sqlalchemy import text

    from reportsvc.extensions import db

    with app.app_context():
        db.session.execute(text(
            "INSERT INTO audit_log (actor, action, target, outcome, detail) "
            "SELECT 'u' || (g % 50), 'act.' || (g % 40), 't', 'ok', '{}'::jsonb FROM generate_series(1, 20000) g"))
        db.session.execute(text("ANALYZE audit_log"))
        for column, value in (("action", "act.7"), ("actor", "u3")):
            plan = "\n".join(db.session.execute(text(
                f"EXPLAIN SELECT * FROM audit_log WHERE {column} = :v ORDER BY created_at DESC, id DESC LIMIT 51"),
                {"v": value}).scalars())
            assert f"ix_audit_log_{column}_created_id" in plan, plan
            assert "Sort" not in plan, plan
        db.session.rollback()
