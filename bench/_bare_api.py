"""The API baseline: a bare Flask app doing the same INSERT + send, and the same status SELECT.

Every request checks its bearer token the minimal way (one indexed SELECT of the token's sha256 and
its owner), because an API must authenticate; beyond that: no validation models, no lifecycle
module, no event row, no message-id UPDATE, no rate limiter, no error handlers, no console. Served
by the same server as the product (bench/api.py).
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from flask import Flask, jsonify, request
from sqlalchemy import create_engine, text

engine = create_engine(os.environ["DATABASE_URL"], pool_pre_ping=True, pool_size=5, max_overflow=10)
broker = RedisBroker(url=os.environ["REDIS_URL"])
app = Flask(__name__)


@app.before_request
def authenticate():  # type: ignore[no-untyped-def]
    header = request.headers.get("Authorization", "")
    digest = hashlib.sha256(header.removeprefix("Bearer ").encode()).hexdigest()
    with engine.connect() as conn:
        ok = conn.execute(
            text("SELECT 1 FROM api_tokens t JOIN users u ON u.id = t.user_id"
                 " WHERE t.token_hash = :h AND t.revoked_at IS NULL AND NOT u.disabled"),
            {"h": digest},
        ).first()
    if ok is None:
        return jsonify({"error": {"code": "unauthorized"}}), 401
    return None


@app.post("/reports")
def create():  # type: ignore[no-untyped-def]
    body = request.get_json(silent=True) or {}
    report_id = uuid.uuid4()
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO report_requests (id, status, progress, progress_message, report_type, title, params)"
                 " VALUES (:id, 'PENDING', 0, 'Queued', 'operations', :title, CAST(:params AS jsonb))"),
            {"id": report_id, "title": body.get("title"), "params": json.dumps({"window_hours": 24, "until": None})},
        )
    broker.enqueue(dramatiq.Message(queue_name="reports", actor_name="generate_report", args=(str(report_id),),
                                    kwargs={}, options={}))
    response = jsonify({"id": str(report_id), "status": "PENDING", "message": "Report generation started"})
    response.status_code = 202
    return response


@app.get("/reports/<report_id>/status")
def status(report_id: str):  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT id, status, progress, progress_message, error_message, attempts, updated_at"
                 " FROM report_requests WHERE id = :id"),
            {"id": uuid.UUID(report_id)},
        ).mappings().one_or_none()
    if row is None:
        return jsonify({"error": {"code": "not_found"}}), 404
    return jsonify({**row, "id": str(row["id"]), "updated_at": row["updated_at"].isoformat()})
