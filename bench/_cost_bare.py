"""The cost baseline: the minimal same work as a one-page report, as a bare web app and a bare actor.

Web (`gunicorn bench._cost_bare:app`): check the bearer token (one indexed SELECT), INSERT the row,
send one message. Worker (`dramatiq bench._cost_bare`): claim UPDATE, render the same page
(bench/_page_type.py), write the file atomically (the product's storage code), READY UPDATE, then the
email over SMTP from the same actor. No lifecycle module, events, heartbeat, progress, metrics or
middleware beyond Dramatiq's defaults.
"""

from __future__ import annotations

import hashlib
import json
import os
import smtplib
import threading
import uuid
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import dramatiq
import psycopg
from dramatiq.brokers.redis import RedisBroker
from flask import Flask, jsonify, request

from bench import _bare_steps, _page_type
from reportsvc.state.storage import LocalStorage

QUEUE = "bare_cost"
DSN = os.environ["DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")
STORAGE = LocalStorage(Path(os.environ["STORAGE_DIR"]))
SMTP = (os.environ.get("EMAIL_HOST", "127.0.0.1"), int(os.environ.get("EMAIL_PORT", "25")))
RECIPIENT = os.environ.get("EMAIL_DEFAULT_TO", "bench@example.com")
broker = RedisBroker(url=os.environ["REDIS_URL"])
dramatiq.set_broker(broker)
#: One autocommit connection per thread, in the web (gthread) and in the worker alike.
_local = threading.local()


app = Flask(__name__)


@app.post("/reports")
def create():  # type: ignore[no-untyped-def]
    """Authenticate, INSERT, send."""
    digest = hashlib.sha256(request.headers.get("Authorization", "").removeprefix("Bearer ").encode()).hexdigest()
    body = request.get_json(silent=True) or {}
    report_id = uuid.uuid4()
    conn = _conn()
    ok = conn.execute("SELECT 1 FROM api_tokens t JOIN users u ON u.id = t.user_id"
                      " WHERE t.token_hash = %s AND t.revoked_at IS NULL AND NOT u.disabled", (digest,)).fetchone()
    if ok is None:
        return jsonify({"error": {"code": "unauthorized"}}), 401
    conn.execute("INSERT INTO report_requests (id, status, progress, progress_message, report_type, title, params)"
                 " VALUES (%s, 'PENDING', 0, 'Queued', %s, %s, %s::jsonb)",
                 (report_id, _page_type.NAME, body.get("title"), json.dumps({})))
    broker.enqueue(dramatiq.Message(queue_name=QUEUE, actor_name="bare_page", args=(str(report_id),), kwargs={},
                                    options={}))
    response = jsonify({"id": str(report_id), "status": "PENDING"})
    response.status_code = 202
    return response


def _conn() -> psycopg.Connection[Any]:
    conn = getattr(_local, "conn", None)
    if conn is None or conn.closed:
        conn = _local.conn = psycopg.connect(DSN, autocommit=True)
    return conn


@dramatiq.actor(queue_name=QUEUE, max_retries=0)
def bare_page(report_id: str) -> None:
    """Claim, render, write, READY, email: the minimum."""
    conn = _conn()
    run_id = uuid.uuid4()
    row = _bare_steps.claim(conn, report_id, run_id, "title")
    if row is None:
        return
    pdf = _page_type.render(_page_type.gather(None, _page_type.PageParams(), title=row[0]))
    _bare_steps.save_ready(conn, STORAGE, report_id, run_id, pdf)
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = "reportsvc@localhost", RECIPIENT, f"Your report is ready: {row[0]}"
    mail.set_content(f"The report {report_id} is ready.")
    with smtplib.SMTP(*SMTP, timeout=10) as smtp:
        smtp.send_message(mail)
