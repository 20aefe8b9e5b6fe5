"""The accounts part of /openapi.json: who am I, the audit log, users and API tokens (admin)."""

from __future__ import annotations

from typing import Any

from reportsvc.state.models import ROLES
from reportsvc.web.openapi.helpers import errors, json_response, op, path_param, query, ref

USER_NAME = path_param("name", {"type": "string", "maxLength": 64}, "account name")


def paths() -> dict[str, Any]:
    """The /me, /audit, /users and /tokens operations."""
    return {
        "/me": {"get": op("Who the credentials belong to", {"200": json_response(ref("Me"), "name, role, via")},
                          tags=("accounts",))},
        "/audit": {"get": op("Audit log, newest first", {"200": json_response(ref("Page"), "one page"),
                                                         **errors(400)},
                             params=[query("limit", {"type": "integer", "minimum": 1, "maximum": 200}, "page size"),
                                     query("cursor", {"type": "string"}, "next_cursor"),
                                     query("action", {"type": "string", "maxLength": 64}, "only this action"),
                                     query("actor", {"type": "string", "maxLength": 255}, "only this actor")],
                             tags=("audit",))},
        "/users": {
            "get": op("Accounts", {"200": json_response(ref("Page"), "every account")}, role="admin",
                      tags=("accounts",)),
            "post": op("Create an account (password generated and returned once when omitted)", {
                "201": json_response(ref("User"), "created"), **errors(400, 409, 413, 415, 422)},
                body=ref("CreateUser"), body_required=True, role="admin", tags=("accounts",)),
        },
        "/users/{name}/disable": {
            "post": op("Disable an account: sessions end, tokens stop working", {
                "200": json_response(ref("User"), "disabled"), **errors(404, 409)},
                params=[USER_NAME], role="admin", tags=("accounts",))},
        "/users/{name}/enable": {
            "post": op("Re-enable an account", {"200": json_response(ref("User"), "enabled"), **errors(404, 409)},
                       params=[USER_NAME], role="admin", tags=("accounts",))},
        "/users/{name}/sessions/end": {
            "post": op("Sign an account out everywhere: its console sessions end, its tokens keep working", {
                "200": json_response(ref("User"), "signed out"), **errors(404)},
                params=[USER_NAME], role="admin", tags=("accounts",))},
        "/tokens": {
            "get": op("API tokens (metadata only)", {"200": json_response(ref("Page"), "tokens"), **errors(400)},
                      params=[query("user", {"type": "string", "maxLength": 64}, "only this account's")],
                      role="admin", tags=("accounts",)),
            "post": op("Create an API token (returned in this response only)", {
                "201": json_response({"type": "object", "required": ["token", "id", "prefix"]}, "created"),
                **errors(400, 404, 409, 413, 415, 422)},
                body=ref("CreateToken"), body_required=True, role="admin", tags=("accounts",)),
        },
        "/tokens/{token_id}/revoke": {
            "post": op("Revoke a token (repeat is 200)", {"200": json_response({"type": "object"}, "revoked"),
                                                          **errors(400, 404)},
                       params=[path_param("token_id", {"type": "string", "maxLength": 30}, "token id")],
                       role="admin", tags=("accounts",))},
    }


SCHEMAS: dict[str, Any] = {
    "Me": {"type": "object", "required": ["name", "role", "via"],
           "properties": {"name": {"type": "string"}, "role": {"type": "string", "enum": list(ROLES)},
                          "via": {"type": "string", "enum": ["session", "token"]}}},
    "User": {"type": "object", "required": ["name", "role", "disabled"],
             "properties": {"name": {"type": "string"}, "role": {"type": "string", "enum": list(ROLES)},
                            "disabled": {"type": "boolean"}, "password": {"type": "string"}}},
    "CreateUser": {"type": "object", "required": ["name", "role"], "additionalProperties": False,
                   "properties": {"name": {"type": "string", "maxLength": 64},
                                  "role": {"type": "string", "enum": list(ROLES)},
                                  "password": {"type": "string", "minLength": 10, "maxLength": 1024}}},
    "CreateToken": {"type": "object", "required": ["user"], "additionalProperties": False,
                    "properties": {"user": {"type": "string", "maxLength": 64},
                                   "label": {"type": "string", "maxLength": 100}}},
}
