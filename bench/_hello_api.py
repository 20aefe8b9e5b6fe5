"""The floor of a Flask request under the same server: hello world on the API's two paths, no work at all.

`POST /reports` reads its body and answers 202 with a fixed JSON body, `GET /reports/<id>/status` 200: what any Flask
endpoint costs before it does anything (routing, request and response objects, JSON), served like the
product (bench/api.py).
"""

from __future__ import annotations

from flask import Flask, jsonify, request

app = Flask(__name__)


@app.post("/reports")
def create():  # type: ignore[no-untyped-def]
    """202 and a fixed body, after reading the request's (as any endpoint taking a body does)."""
    request.get_data()
    response = jsonify({"id": "00000000-0000-0000-0000-000000000000", "status": "PENDING"})
    response.status_code = 202
    return response


@app.get("/reports/<report_id>/status")
def status(report_id: str):  # type: ignore[no-untyped-def]
    """200 and a fixed body."""
    return jsonify({"id": report_id, "status": "PENDING"})
