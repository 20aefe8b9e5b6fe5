"""The console's "Generate report" form: built from the chosen type's params schema, validated by the API's code.

There is no per-type template: the inputs come from the type's JSON Schema (`schema_fields`), so a plugin
or a dataset gets its form for free. Errors come back from the API's validator and are shown next to
the input they name (`params.<name>`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from reportsvc import reports
from reportsvc.web.schema_fields import FormField, fields_for, value_for
from reportsvc.web.schemas import InputError, validate_create

#: Inputs every type has; the simulate ones only with fault injection on.
ENVELOPE = ("report_type", "title", "notify_email")
SIMULATE = ("fail_times", "sleep_seconds")


@dataclass
class ReportForm:
    """The chosen type, its inputs, what the user typed and the errors per input ("" key: errors of no input)."""

    report_type: str
    fields: list[FormField] = field(default_factory=list)
    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)
    description: str = ""

    @property
    def report_types(self) -> list[tuple[str, str]]:
        """(name, label) of every type a client can create, for the type select."""
        return [(rt.name, _label(rt)) for rt in reports.offered()]

    def error_list(self) -> list[tuple[str, str]]:
        """(input, message) pairs in form order, for the summary at the top of the form."""
        order = ["", "report_type", "title", *(f.input_name for f in self.fields), "notify_email", *SIMULATE]
        return [(name, message) for name in order for message in self.errors.get(name, [])]


def _label(rt: reports.ReportType) -> str:
    if rt.name.startswith("table."):
        return f"Table: {rt.params_model.model_json_schema().get('title') or rt.name[6:]}"
    return rt.name.replace("_", " ").replace(".", ": ").title()


def form_for(report_type: str | None, values: Mapping[str, str] | None = None) -> ReportForm:
    """The form for one type, its inputs filled with `values` or else with the schema's defaults."""
    name = report_type or reports.DEFAULT_REPORT_TYPE
    try:
        rt = reports.get(name)
    except reports.UnknownReportType:
        rt = reports.get(reports.DEFAULT_REPORT_TYPE)
    fields = fields_for(rt.params_model.model_json_schema())
    filled = {f.input_name: f.default for f in fields}
    filled.update({k: v for k, v in (values or {}).items()})
    filled["report_type"] = rt.name
    return ReportForm(report_type=rt.name, fields=fields, values=filled, description=rt.description)


def blank_form(report_type: str | None = None, keep: Mapping[str, str] | None = None) -> ReportForm:
    """The form as first shown (or after switching type: the title and email typed so far are kept)."""
    kept = {k: str(v)[:500] for k, v in (keep or {}).items() if k in ("title", "notify_email")}
    return form_for(report_type, kept)


def to_body(form: ReportForm) -> dict[str, Any]:
    """The API's create body for the typed values; empty inputs are left out so defaults apply."""
    values = form.values
    body: dict[str, Any] = {"report_type": form.report_type}
    for name in ("title", "notify_email"):
        if values.get(name, "").strip():
            body[name] = values[name]
    params: dict[str, Any] = {}
    for f in form.fields:
        typed = values.get(f.input_name, "").strip()
        if typed or f.kind == "checkbox":
            params[f.param] = value_for(f, typed)
    simulate = {k: values[k].strip() for k in SIMULATE if values.get(k, "").strip()}
    if simulate:
        params["simulate"] = simulate
    body["params"] = params
    return body


def parse(form: Mapping[str, str], *, fault_injection: bool,
          notify_domains: tuple[str, ...] = ()) -> tuple[ReportForm, dict[str, Any] | None]:
    """Validate the submitted form with the API's validator; (form with errors, None) or (form, fields)."""
    chosen = str(form.get("report_type", "") or reports.DEFAULT_REPORT_TYPE)[:64]
    result = form_for(chosen)
    names = [*ENVELOPE, *SIMULATE, *(f.input_name for f in result.fields)]
    result.values.update({name: str(form.get(name, ""))[:500] for name in names})
    unknown_type = result.report_type != chosen
    try:
        body = to_body(result)
        if unknown_type:
            body["report_type"] = chosen  # let the validator refuse it with its message
        fields = validate_create(body, fault_injection=fault_injection, notify_domains=notify_domains)
    except InputError as exc:
        targets = {f"params.{f.param}": f.input_name for f in result.fields}
        targets.update({n: n for n in ENVELOPE} | {f"params.simulate.{n}": n for n in SIMULATE})
        for err in exc.errors:
            target = targets.get(err["field"], "")
            message = err["message"] if target else f"{err['field']}: {err['message']}"
            result.errors.setdefault(target, []).append(message)
        return result, None
    return result, fields
