"""Input of a schedule (API, console form, CLI): the envelope, the cron and zone, the type's params, recipients.

The report type and its params are checked by the report-type registry, exactly as POST /reports checks
them, so a type added by a plugin is schedulable the moment it is installed.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from reportsvc import reports
from reportsvc.ops import cron
from reportsvc.state.schedule_model import ReportSchedule
from reportsvc.web.schemas import EMAIL, InputError, _no_control_chars, check_callback_url, pydantic_errors

MAX_RECIPIENTS = 50
EDITABLE = ("name", "cron", "timezone", "report_type", "params", "title", "recipients", "misfire", "callback_url")


class ScheduleBody(BaseModel):
    """Body of PATCH /schedules/<id>: every field optional; POST /schedules requires name and cron."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    name: str | None = Field(None, min_length=1, max_length=100)
    cron: str | None = Field(None, min_length=1, max_length=cron.MAX_CRON_LENGTH)
    timezone: str | None = Field(None, min_length=1, max_length=64)
    report_type: str | None = Field(None, min_length=1, max_length=64)
    params: dict[str, Any] | None = None
    title: str | None = Field(None, max_length=200)
    recipients: list[str] | None = Field(None, max_length=MAX_RECIPIENTS)
    misfire: Literal["latest", "skip"] | None = None
    callback_url: str | None = Field(None, max_length=2000)

    @field_validator("callback_url")
    @classmethod
    def _callback(cls, value: str | None) -> str | None:
        return check_callback_url(value)

    @field_validator("name", "title")
    @classmethod
    def _text(cls, value: str | None) -> str | None:
        return _no_control_chars(value) if value else value

    @field_validator("recipients")
    @classmethod
    def _recipients(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        cleaned: list[str] = []
        for address in value:
            address = address.strip()
            if len(address) > 254 or not EMAIL.match(address):
                raise ValueError(f"{address[:80]!r} is not a valid email address")
            if address not in cleaned:
                cleaned.append(address)
        return cleaned


def _envelope(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise InputError([{"field": "body", "message": "must be a JSON object"}])
    try:
        body = ScheduleBody.model_validate(raw)
    except ValidationError as exc:
        raise InputError(pydantic_errors(exc)) from None
    return {name: value for name, value in body.model_dump().items() if name in raw}


def _check(fields: dict[str, Any], errors: list[dict[str, str]]) -> dict[str, Any]:
    """Cron, zone, type and params of the complete schedule; errors appended, cleaned values returned."""
    timezone = fields["timezone"]
    try:
        cron.zone(timezone)
    except cron.CronError as exc:
        errors.append({"field": exc.field, "message": str(exc)})
        timezone = "UTC"  # still check the cron itself, so both errors show at once
    try:
        fields["cron"] = cron.parse(fields["cron"], timezone).expression
    except cron.CronError as exc:
        errors.append({"field": exc.field, "message": str(exc)})
    try:
        # Defaults are left out so each run resolves them then (a dataset's `today-7d` moves with the slot).
        fields["params"] = reports.validate_params(fields["report_type"], fields["params"], only_given=True)
    except reports.UnknownReportType:
        errors.append({"field": "report_type",
                       "message": f"unknown report type; known types: {', '.join(reports.names())}"})
    except reports.ParamsError as exc:
        errors.extend(exc.errors)
    return fields


def _envelope_and_errors(raw: Any) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """The envelope's good fields and its errors, so the cron, zone and type are still checked (and
    reported together) when another field is wrong."""
    try:
        return _envelope(raw), []
    except InputError as exc:
        if not isinstance(raw, dict):
            raise
        bad = {e["field"].split(".", 1)[0] for e in exc.errors}
        good = {k: v for k, v in raw.items() if k in EDITABLE and k not in bad and isinstance(v, str | dict)}
        return good, exc.errors


def validate_new(raw: Any) -> dict[str, Any]:
    """A complete schedule from a create request (defaults filled in); InputError naming each bad field."""
    given, errors = _envelope_and_errors(raw if raw is not None else {})
    bad = {e["field"].split(".", 1)[0] for e in errors}
    errors += [{"field": name, "message": "is required"} for name in ("name", "cron")
               if not given.get(name) and name not in bad]
    fields = {
        "name": given.get("name") or "",
        "cron": given.get("cron") or "",
        "timezone": given.get("timezone") or "UTC",
        "report_type": given.get("report_type") or reports.DEFAULT_REPORT_TYPE,
        "params": given.get("params") or {},
        "title": given.get("title") or None,
        "recipients": given.get("recipients") or [],
        "misfire": given.get("misfire") or "latest",
        "callback_url": given.get("callback_url") or None,
    }
    if fields["cron"]:
        _check(fields, errors)
    if errors:
        raise InputError(errors)
    return fields


def validate_change(row: ReportSchedule, raw: Any) -> dict[str, Any]:
    """The changed fields of a PATCH, checked together with what they do not change; InputError if bad."""
    given = _envelope(raw if raw is not None else {})
    nulls = [name for name in ("name", "cron", "timezone", "report_type", "misfire") if name in given
             and given[name] is None]
    if nulls:
        raise InputError([{"field": name, "message": "must not be null"} for name in nulls])
    merged = {name: getattr(row, name) for name in EDITABLE} | given
    merged["params"] = merged.get("params") or {}
    merged["recipients"] = merged.get("recipients") or []
    errors: list[dict[str, str]] = []
    _check(merged, errors)
    if errors:
        raise InputError(errors)
    return {name: merged[name] for name in given}
