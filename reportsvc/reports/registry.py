"""Registry of report types: each type is one module that calls `register()` at import.

A report type is a pair of functions around a pydantic params model:
`gather(source, params) -> data` reads whatever the type needs from a caller-provided source
(no DB session in this package), and `render(data) -> bytes` turns that data into a PDF.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

__all__ = [
    "ParamsError",
    "ReportType",
    "UnknownReportType",
    "get",
    "names",
    "register",
    "validate_params",
]


class ParamsError(ValueError):
    """Invalid report input; `errors` is a list of `{"field": ..., "message": ...}` for a 422 body."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        self.errors = errors
        summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors) or "invalid params"
        super().__init__(summary)


class UnknownReportType(ParamsError):
    """No report type is registered under this name (reported on field `report_type`)."""

    def __init__(self, name: str) -> None:
        self.name = name
        known = ", ".join(names()) or "none"
        super().__init__([{"field": "report_type", "message": f"unknown report type {name!r} (known: {known})"}])


@dataclass(frozen=True)
class ReportType:
    """One kind of report: its params model and the gather/render pair that produces the PDF."""

    name: str
    description: str
    params_model: type[BaseModel]
    gather: Callable[..., Any]
    render: Callable[[Any], bytes]

    def parse_params(self, raw: Mapping[str, Any] | None) -> BaseModel:
        """Validate raw params into this type's model, raising `ParamsError` with dotted field paths."""
        if raw is None:
            raw = {}
        if not isinstance(raw, Mapping):
            raise ParamsError([{"field": "params", "message": "must be a JSON object"}])
        try:
            return self.params_model.model_validate(dict(raw))
        except ValidationError as exc:
            raise ParamsError(_errors_from(exc)) from None


_REGISTRY: dict[str, ReportType] = {}


def register(rt: ReportType) -> ReportType:
    """Add a report type; re-registering the same name replaces it (module reloads in tests)."""
    _REGISTRY[rt.name] = rt
    return rt


def get(name: str) -> ReportType:
    """Return the report type called `name` or raise `UnknownReportType`."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownReportType(name) from None


def names() -> list[str]:
    """Registered report type names, sorted."""
    return sorted(_REGISTRY)


def validate_params(report_type: str, raw: Mapping[str, Any] | None) -> dict[str, Any]:
    """Validate `raw` for `report_type` and return normalized, JSON-serializable params."""
    return get(report_type).parse_params(raw).model_dump(mode="json")


def _errors_from(exc: ValidationError) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    for err in exc.errors(include_url=False):
        path = ".".join(str(part) for part in err.get("loc", ()))
        out.append({"field": f"params.{path}" if path else "params", "message": err.get("msg", "invalid")})
    return out
