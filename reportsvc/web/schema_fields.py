"""Form inputs from a report type's params JSON Schema: the console's generate form has no per-type template.

Each schema property becomes one input of the right kind: `date` and `datetime-local` pickers for
`format: date` / `date-time`, a number input with its bounds for integers and numbers, a select for an
`enum`, a checkbox for a boolean, a text input otherwise; the default is filled in and the title and
description become the label and hint.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: Form names the envelope and fault injection use; a parameter with one of these names is prefixed.
RESERVED = frozenset({"report_type", "title", "notify_email", "fail_times", "sleep_seconds", "csrf_token"})


@dataclass(frozen=True)
class FormField:
    """One parameter's input: its HTML name/id, kind, label, hint, default and constraints."""

    param: str
    input_name: str
    kind: str  # number, date, datetime-local, select, checkbox, text
    label: str
    hint: str = ""
    default: str = ""
    required: bool = False
    options: tuple[str, ...] = ()
    minimum: str = ""
    maximum: str = ""
    step: str = ""
    max_length: int | None = None


def _concrete(schema: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """The non-null branch of an `anyOf: [X, null]` (and whether null was allowed)."""
    branches = schema.get("anyOf")
    if not branches:
        return schema, False
    concrete = [b for b in branches if b.get("type") != "null"]
    return ({**schema, **concrete[0]} if concrete else schema), len(concrete) < len(branches)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "on" if value else ""
    return str(value)


def field_for(param: str, raw: dict[str, Any], required: bool) -> FormField:
    """The input for one schema property."""
    schema, _nullable = _concrete(raw)
    kind_of = schema.get("type")
    label = str(schema.get("title") or param.replace("_", " ").capitalize())
    hint = str(schema.get("description") or "")
    default = raw.get("default", schema.get("default"))
    common: dict[str, Any] = {"param": param, "input_name": f"param_{param}" if param in RESERVED else param,
                              "label": label, "required": required}
    if "enum" in schema:
        return FormField(kind="select", options=tuple(str(v) for v in schema["enum"]), default=_text(default),
                         hint=hint, **common)
    if kind_of in ("integer", "number"):
        bounds = [_text(schema.get(k)) for k in ("minimum", "maximum")]
        if bounds[0] and bounds[1] and not hint:
            hint = f"{bounds[0]}–{bounds[1]}"
        return FormField(kind="number", default=_text(default), minimum=bounds[0], maximum=bounds[1],
                         step="1" if kind_of == "integer" else "any", hint=hint, **common)
    if kind_of == "boolean":
        return FormField(kind="checkbox", default=_text(default), hint=hint, **common)
    if kind_of == "string" and schema.get("format") == "date":
        return FormField(kind="date", default=_text(default)[:10], hint=hint, **common)
    if kind_of == "string" and schema.get("format") == "date-time":
        # The picker has no time zone: what is typed is read as UTC (the hint says so).
        value = _text(default)[:16]
        return FormField(kind="datetime-local", default=value, hint=(hint + " " if hint else "") + "(UTC)",
                         **common)
    return FormField(kind="text", default=_text(default), hint=hint, max_length=schema.get("maxLength"), **common)


def fields_for(schema: dict[str, Any]) -> list[FormField]:
    """Every property of a params schema as a form field, in the schema's order."""
    required = set(schema.get("required", ()))
    return [field_for(name, sub, name in required) for name, sub in schema.get("properties", {}).items()]


def value_for(field: FormField, typed: str) -> Any:
    """What the API gets for a typed value: checkboxes as booleans, zone-less date-times as UTC."""
    if field.kind == "checkbox":
        return typed not in ("", "off", "false", "0")
    if field.kind == "datetime-local" and typed and not (typed.endswith("Z") or "+" in typed[10:]
                                                          or "-" in typed[10:]):
        return (typed + ":00" if len(typed) == 16 else typed) + "Z"
    return typed
