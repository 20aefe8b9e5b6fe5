"""The admin JSON API for accounts and API tokens (blueprint "accounts_api", admin only: see
access.ADMIN_BLUEPRINTS): list/create/disable/enable users, sign one out everywhere, list/create/revoke tokens.

accounts.py does the work and the refusing (the admin guards included), as for the console and the CLI;
this module validates the JSON, maps AccountError to a status, and writes the audit log.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from reportsvc.state import accounts, audit
from reportsvc.state.accounts import AccountError
from reportsvc.web.access import current_actor
from reportsvc.web.errors import ApiError, invalid_input
from reportsvc.web.requests import read_json_body

bp = Blueprint("accounts_api", __name__)


def _body() -> dict[str, Any]:
    body = read_json_body()
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise invalid_input("body", "must be a JSON object")
    return body


def _field(body: dict[str, Any], name: str, *, required: bool = True) -> Any:
    value = body.get(name)
    if value is None:
        if required:
            raise invalid_input(name, "is required")
        return None
    if not isinstance(value, str):
        raise invalid_input(name, "must be a string")
    return value


def _account_error(exc: AccountError) -> ApiError:
    conflict = isinstance(exc, accounts.AccountConflict) or "already exists" in str(exc)
    status = 404 if str(exc).startswith("no ") else 409 if conflict else 422
    code = {404: "not_found", 409: "conflict"}.get(status, "invalid_input")
    return ApiError(status, code, f"{exc.field}: {exc}", details=[{"field": exc.field, "message": str(exc)}])


@bp.get("/users")
def list_users() -> Response:
    """Every account (admin)."""
    return jsonify({"items": [u.to_dict() for u in accounts.list_users()]})


@bp.post("/users")
def create_user() -> Response:
    """Create an account: {"name", "role", "password"?}; without a password one is generated and returned once."""
    body = _body()
    unknown = sorted(set(body) - {"name", "role", "password"})
    if unknown:
        raise invalid_input(unknown[0], "unknown field; expected name, role, password")
    name, role = _field(body, "name"), _field(body, "role")
    password = _field(body, "password", required=False)
    generated = accounts.generate_password() if password is None else None
    try:
        user = accounts.create_user(name, role, password if generated is None else generated)
    except AccountError as exc:
        raise _account_error(exc) from None
    audit.record(current_actor(), "user.create", f"user:{user.name}", "ok", {"role": user.role})
    out = user.to_dict()
    if generated is not None:
        out["password"] = generated  # shown once
    response = jsonify(out)
    response.status_code = 201
    return response


@bp.post("/users/<name>/disable")
def disable_user(name: str) -> Response:
    """Disable an account: its sessions end and its tokens stop working at once (admin)."""
    return _set_disabled(name, True)


@bp.post("/users/<name>/enable")
def enable_user(name: str) -> Response:
    """Re-enable an account (its old sessions stay ended) (admin)."""
    return _set_disabled(name, False)


@bp.post("/users/<name>/sessions/end")
def end_sessions(name: str) -> Response:
    """Sign an account out everywhere: every console session it has ends; its API tokens keep working (admin)."""
    try:
        user = accounts.end_sessions(name)
    except AccountError as exc:
        raise _account_error(exc) from None
    audit.record(current_actor(), "user.end_sessions", f"user:{user.name}", "ok", {"via": "api"})
    return jsonify(user.to_dict())


def _set_disabled(name: str, disabled: bool) -> Response:
    try:
        # accounts refuses disabling yourself or the last enabled admin (409), for the console and CLI alike.
        user = accounts.set_disabled(name, disabled, actor=current_actor())
    except AccountError as exc:
        if isinstance(exc, accounts.AccountConflict):  # a guard's refusal is an action attempted: audited
            audit.record(current_actor(), "user.disable" if disabled else "user.enable", f"user:{name}",
                         "refused", {"reason": str(exc), "via": "api"})
        raise _account_error(exc) from None
    audit.record(current_actor(), "user.disable" if disabled else "user.enable", f"user:{name}", "ok")
    return jsonify(user.to_dict())


@bp.get("/tokens")
def list_tokens() -> Response:
    """Token metadata (never the tokens), optionally ?user=NAME (admin)."""
    user = request.args.get("user") or None
    if user is not None and len(user) > 64:
        raise ApiError(400, "invalid_filter", "user: at most 64 characters")
    return jsonify({"items": [row.to_dict(owner) for row, owner in accounts.list_tokens(user)]})


@bp.post("/tokens")
def create_token() -> Response:
    """Create a token for {"user", "label"?}; the token is in this response only (admin)."""
    body = _body()
    unknown = sorted(set(body) - {"user", "label"})
    if unknown:
        raise invalid_input(unknown[0], "unknown field; expected user, label")
    try:
        row, token = accounts.create_token(_field(body, "user"), _field(body, "label", required=False))
    except AccountError as exc:
        raise _account_error(exc) from None
    owner = body["user"]
    audit.record(current_actor(), "token.create", f"user:{owner}", "ok", {"token_id": row.id, "prefix": row.prefix})
    out = row.to_dict(owner)
    out["token"] = token
    response = jsonify(out)
    response.status_code = 201
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/tokens/<token_id>/revoke")
def revoke_token(token_id: str) -> Response:
    """Revoke a token by id (admin); repeating it is 200."""
    if not token_id.isdigit() or len(token_id) > 18:
        raise ApiError(400, "invalid_id", "token ids are whole numbers (see GET /tokens)")
    try:
        row = accounts.revoke_token(int(token_id))
    except AccountError as exc:
        raise ApiError(404, "not_found", str(exc)) from None
    audit.record(current_actor(), "token.revoke", f"token:{row.id}", "ok", {"prefix": row.prefix})
    return jsonify(row.to_dict())
