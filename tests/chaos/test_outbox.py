"""Commit first, then send: a report created while Redis is down is delivered by the reconciler."""

from __future__ import annotations

import pytest

from reportsvc.ops import sweeper
from reportsvc.redis_client import get_redis
from tests.conftest import wait_status

pytestmark = pytest.mark.slow


def test_create_while_redis_is_down_is_202_and_delivered_later(app, engines, client, settings, worker, caplog):
    if engines.valkey is None:
        pytest.skip("needs the embedded Valkey to stop and start it")
    current = settings(reconcile_grace_seconds=0)
    engines.valkey.stop()
    try:
        response = client.post("/reports", json={"title": "during the outage"})
    finally:
        engines.valkey.start()
    assert response.status_code == 202
    report_id = response.get_json()["id"]
    assert "reconciler will deliver it" in caplog.text
    body = client.get(f"/reports/{report_id}").get_json()
    assert body["status"] == "PENDING" and body["message_id"] is None
    assert "enqueue_failed" in [e["kind"] for e in body["events"]]
    with app.app_context():
        result = sweeper.reconcile_orphans(get_redis(), current)
    assert result.requeued == [report_id]
    assert wait_status(client, report_id, {"READY", "FAILED"}, timeout=30)["status"] == "READY"
    with app.app_context():
        assert sweeper.reconcile_orphans(get_redis(), current).requeued == []
