"""Input models for the JSON API (pydantic), with field-naming error details."""

from __future__ import annotations

import re
import unicodedata
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from reportsvc import reports

EMAIL = re.compile(r"^[^@\s<>\"',;]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9-]{1,63})+$")


def _no_control_chars(value: str) -> str:
    if any(unicodedata.category(ch) in ("Cc", "Cs") and ch not in "\t" for ch in value):
        raise ValueError("must not contain control characters")
    return value


class Simulate(BaseModel):
    """Fault injection asked for by a report (REPORTSVC_FAULT_INJECTION=1 only)."""

    model_config = ConfigDict(extra="forbid")
    fail_times: int = Field(0, ge=0, le=100)
    sleep_seconds: float = Field(0.0, ge=0, le=3600)
    hang: bool = False
    pause_before_email: float = Field(0.0, ge=0, le=3600)


class CreateReport(BaseModel):
    """Body of POST /reports; every field optional."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    report_type: str = Field("operations", min_length=1, max_length=64)
    title: str | None = Field(None, max_length=200)
    notify_email: str | None = Field(None, max_length=254)
    callback_url: str | None = Field(None, max_length=2000)
    #: The lane: its own queue and workers (see README "Priority lanes").
    priority: Literal["interactive", "batch"] = "interactive"
    params: dict[str, Any] = Field(default_factory=dict)

    @field_validator("title")
    @classmethod
    def _title(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        return _no_control_chars(value)

    @field_validator("notify_email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not EMAIL.match(value):
            raise ValueError("is not a valid email address")
        return value


    @field_validator("callback_url")
    @classmethod
    def _callback(cls, value: str | None) -> str | None:
        return check_callback_url(value)


def check_callback_url(value: str | None) -> str | None:
    """A callback_url as given, None for empty, or ValueError: syntax only (where the host resolves to is
    checked at each delivery, since DNS can change)."""
    if value is None or value == "":
        return None
    parts = urlsplit(_no_control_chars(value))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL with a host")
    if parts.username or parts.password:
        raise ValueError("must not carry credentials")
    try:
        parts.port  # noqa: B018 (raises on a port out of range)
    except ValueError:
        raise ValueError("has an invalid port") from None
    return value


class InputError(ValueError):
    """Validation failed; `errors` lists {field, message}."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))
        self.errors = errors


def clean_message(message: str) -> str:
    """Pydantic's message without its "Value error, " / "Assertion failed, " prefix (our validators' own words)."""
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            return message[len(prefix):]
    return message


def pydantic_errors(exc: ValidationError, prefix: str = "") -> list[dict[str, str]]:
    """Flatten a pydantic error into [{field, message}] with dotted field paths."""
    out = []
    for err in exc.errors():
        path = ".".join(str(part) for part in err["loc"]) or "body"
        out.append({"field": f"{prefix}{path}", "message": clean_message(err["msg"])})
    return out


def validate_create(raw: Any, *, fault_injection: bool, notify_domains: tuple[str, ...] = ()) -> dict[str, Any]:
    """Validate a create request: the envelope, the report type's params, any simulate block, and
    notify_email's domain when `notify_domains` (NOTIFY_EMAIL_DOMAINS) names some."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise InputError([{"field": "body", "message": "must be a JSON object"}])
    try:
        body = CreateReport.model_validate(raw)
    except ValidationError as exc:
        raise InputError(pydantic_errors(exc)) from None
    params = dict(body.params)
    simulate_raw = params.pop("simulate", None)
    errors: list[dict[str, str]] = []
    simulate: dict[str, Any] | None = None
    if simulate_raw is not None:
        if not fault_injection:
            errors.append({"field": "params.simulate",
                           "message": "fault injection is disabled (set REPORTSVC_FAULT_INJECTION=1)"})
        else:
            try:
                simulate = Simulate.model_validate(simulate_raw).model_dump()
            except ValidationError as exc:
                errors.extend(pydantic_errors(exc, "params.simulate."))
    try:
        clean_params = reports.validate_params(body.report_type, params)
    except reports.UnknownReportType:
        errors.append({"field": "report_type",
                       "message": f"unknown report type; known types: {', '.join(reports.names())}"})
        clean_params = {}
    except reports.ParamsError as exc:
        errors.extend(exc.errors)
        clean_params = {}
    if body.notify_email and notify_domains:
        domain = body.notify_email.rsplit("@", 1)[1].lower()
        if domain not in notify_domains:
            errors.append({"field": "notify_email",
                           "message": f"must be an address at {', '.join(notify_domains)} (NOTIFY_EMAIL_DOMAINS)"})
    if errors:
        raise InputError(errors)
    if simulate is not None:
        clean_params["simulate"] = simulate
    return {
        "report_type": body.report_type,
        "title": body.title,
        "notify_email": body.notify_email,
        "callback_url": body.callback_url,
        "priority": body.priority,
        "params": clean_params,
    }
