"""Building blocks of /openapi.json shared by every group: schema refs, responses, errors, parameters, operations."""

from __future__ import annotations

from typing import Any

UUID_SCHEMA = {"type": "string", "maxLength": 100}
QUEUE_NAME = {"type": "string", "maxLength": 300}
MESSAGE_ID = {"type": "string", "maxLength": 300}
NULLABLE_STR = {"type": "string", "nullable": True}
TIMESTAMP = {"type": "string", "nullable": True}


def ref(name: str) -> dict[str, str]:
    """A reference to a schema of components/schemas."""
    return {"$ref": f"#/components/schemas/{name}"}


def json_response(schema: dict[str, Any], description: str) -> dict[str, Any]:
    """A JSON response with this schema."""
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def errors(*codes: int) -> dict[str, Any]:
    """The error responses (the Error schema) for these status codes."""
    texts = {
        400: "malformed input (bad id, filter or JSON)", 401: "no or bad credentials", 403: "role too low",
        404: "not found", 409: "conflict with the current state",
        410: "the PDF is gone: deleted by retention (file_expired) or missing from storage (file_missing)",
        413: "body too large", 503: "the report store is unavailable (storage_unavailable); retry shortly",
        415: "body is not JSON", 422: "invalid field (details name it)", 429: "rate limited (see Retry-After)",
    }
    return {str(c): json_response(ref("Error"), texts[c]) for c in codes}


def path_param(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    """A required path parameter."""
    return {"name": name, "in": "path", "required": True, "schema": schema, "description": description}


def query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    """An optional query parameter."""
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


def op(summary: str, responses: dict[str, Any], *, params: list[dict[str, Any]] | None = None,
       body: dict[str, Any] | None = None, body_required: bool = False, role: str = "viewer",
       public: bool = False, tags: tuple[str, ...] = ()) -> dict[str, Any]:
    """One operation with the least role allowed (`x-required-role`) and the refusals any protected call can get."""
    operation: dict[str, Any] = {"summary": summary, "responses": responses,
                                 "x-required-role": None if public else role}
    if tags:
        operation["tags"] = list(tags)
    if params:
        operation["parameters"] = params
    if body is not None:
        operation["requestBody"] = {"required": body_required, "content": {"application/json": {"schema": body}}}
    if public:
        operation["security"] = []
    else:
        # Bad/absent credentials, too-low role and rate limits can answer any protected call.
        operation["responses"] = {**responses, **errors(401, 403, 429)}
    return operation


#: Schemas every group uses.
SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object", "required": ["error"],
        "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {
            "code": {"type": "string"}, "message": {"type": "string"}, "details": {}}}},
    },
    "Page": {"type": "object", "required": ["items"],
             "properties": {"items": {"type": "array", "items": {"type": "object"}}}},
}
