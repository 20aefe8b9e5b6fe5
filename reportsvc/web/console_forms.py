"""The console's "Generate report" form: form fields <-> the API's create body, validated by the same code."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from reportsvc import reports
from reportsvc.web.schemas import InputError, validate_create

#: Form inputs; the first four are for everyone, the simulate ones only with fault injection on.
FIELDS = ("report_type", "title", "window_hours", "notify_email", "fail_times", "sleep_seconds")

#: Where an API error field (dotted path) is shown on the form.
ERROR_FIELD = {
    "report_type": "report_type",
    "title": "title",
    "notify_email": "notify_email",
    "params.window_hours": "window_hours",
    "params.simulate.fail_times": "fail_times",
    "params.simulate.sleep_seconds": "sleep_seconds",
}


@dataclass
class ReportForm:
    """What the user typed and the errors to show next to each field ("" key: errors of no field)."""

    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)

    @property
    def report_types(self) -> list[str]:
        """Registered report types for the type select."""
        return reports.names()

    def error_list(self) -> list[tuple[str, str]]:
        """(field, message) pairs in form order, for the summary at the top of the form."""
        out = []
        for name in ("", *FIELDS):
            for message in self.errors.get(name, []):
                out.append((name, message))
        return out


def blank_form() -> ReportForm:
    """The form as first shown."""
    return ReportForm(values={"report_type": "operations", "window_hours": "24"})


def to_body(values: Mapping[str, str]) -> dict[str, Any]:
    """The API's create body for these form values; empty inputs are left out so defaults apply."""
    body: dict[str, Any] = {"report_type": values.get("report_type") or "operations"}
    for name in ("title", "notify_email"):
        if values.get(name, "").strip():
            body[name] = values[name]
    params: dict[str, Any] = {}
    if values.get("window_hours", "").strip():
        params["window_hours"] = values["window_hours"].strip()
    simulate = {k: values[k].strip() for k in ("fail_times", "sleep_seconds") if values.get(k, "").strip()}
    if simulate:
        params["simulate"] = simulate
    body["params"] = params
    return body


def parse(form: Mapping[str, str], *, fault_injection: bool) -> tuple[ReportForm, dict[str, Any] | None]:
    """Validate the submitted form with the API's validator; (form with errors, None) or (form, fields)."""
    values = {name: str(form.get(name, ""))[:500] for name in FIELDS}
    result = ReportForm(values=values)
    try:
        fields = validate_create(to_body(values), fault_injection=fault_injection)
    except InputError as exc:
        for err in exc.errors:
            target = ERROR_FIELD.get(err["field"], "")
            message = err["message"] if target else f"{err['field']}: {err['message']}"
            result.errors.setdefault(target, []).append(message)
        return result, None
    return result, fields
