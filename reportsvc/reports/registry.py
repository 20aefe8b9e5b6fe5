"""Registry of report types, filled by `discovery` from the `reportsvc.report_types` entry points.

A report type is a pair of functions around a pydantic params model:
`gather(source, params) -> data` reads whatever the type needs from a caller-provided source
(no DB session in this package), and `render(data) -> bytes` turns that data into a PDF.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

__all__ = [
    "ParamsError",
    "ReportType",
    "UnknownReportType",
    "all_types",
    "get",
    "mark_discovered",
    "names",
    "offered",
    "register",
    "unregister",
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
    #: Recorded on each report row it renders (`report_type_version`); bump it when the output changes.
    version: str = "1"
    #: The distribution that provided the type (set by discovery; named in duplicate-name errors).
    package: str = "reportsvc"
    #: A family of types (`table`): its variants are offered instead of itself, named `<name>.<variant>`.
    variants: Callable[[], list[ReportType]] | None = None
    variant: Callable[[str], ReportType | None] | None = None

    def run_gather(self, source: Any, params: BaseModel, *, title: str | None) -> Any:
        """Call `gather(source, params)`, passing the report's title when gather takes one."""
        try:
            takes_title = _takes_title(self.gather)
        except TypeError:  # an unhashable callable: asked each time, as before
            takes_title = "title" in inspect.signature(self.gather).parameters
        if takes_title:
            return self.gather(source, params, title=title)
        return self.gather(source, params)

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


@functools.lru_cache(maxsize=256)
def _takes_title(gather: Callable[..., Any]) -> bool:
    # inspect.signature costs ~7 us, once per report before: a gather's signature does not change.
    return "title" in inspect.signature(gather).parameters


_REGISTRY: dict[str, ReportType] = {}


def register(rt: ReportType) -> ReportType:
    """Add a report type; re-registering the same name replaces it (module reloads in tests)."""
    _REGISTRY[rt.name] = rt
    return rt


def unregister(name: str) -> None:
    """Forget a report type (discovery replacing the set, tests)."""
    _REGISTRY.pop(name, None)


def all_types() -> list[ReportType]:
    """Every registered report type, sorted by name."""
    return [_REGISTRY[name] for name in sorted(_REGISTRY)]


def offered() -> list[ReportType]:
    """What a client can create, by name: each registered type, or a family's variants in its place."""
    _ensure_discovered()
    found: dict[str, ReportType] = {}
    for rt in _REGISTRY.values():
        if rt.variants is None:
            found[rt.name] = rt
        else:
            for variant in rt.variants():
                found.setdefault(variant.name, variant)
    return [found[name] for name in sorted(found)]


#: Set by `discovery`: fills the registry from entry points on first use when start-up did not.
_loader: Callable[[], None] | None = None
_loaded = False


def _ensure_discovered() -> None:
    global _loaded
    if not _loaded and _loader is not None:
        _loaded = True
        _loader()


def mark_discovered() -> None:
    """Record that discovery ran (it must not run again lazily)."""
    global _loaded
    _loaded = True


def get(name: str) -> ReportType:
    """Return the report type called `name` or raise `UnknownReportType`."""
    _ensure_discovered()
    found = _REGISTRY.get(name)
    if found is not None and found.variants is None:
        return found
    family, _, rest = name.partition(".")
    parent = _REGISTRY.get(family)
    if rest and parent is not None and parent.variant is not None:
        resolved = parent.variant(rest)
        if resolved is not None:
            return resolved
    raise UnknownReportType(name)


def names() -> list[str]:
    """Names a client can create, sorted (registered types and each resolver's, e.g. `table.<dataset>`)."""
    return [rt.name for rt in offered()]


def validate_params(report_type: str, raw: Mapping[str, Any] | None, *, only_given: bool = False) -> dict[str, Any]:
    """Validate `raw` for `report_type` and return normalized, JSON-serializable params.

    `only_given` leaves defaults out: what is stored to be validated again later (a schedule's params), so a
    relative default such as a dataset's `today-7d` is resolved on each run, not frozen at the first."""
    return get(report_type).parse_params(raw).model_dump(mode="json", exclude_unset=only_given)


def _clean(message: str) -> str:
    # Pydantic prefixes a validator's own words with "Value error, "; the 422 says them plainly.
    return message.removeprefix("Value error, ").removeprefix("Assertion failed, ")


def _errors_from(exc: ValidationError) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    for err in exc.errors(include_url=False):
        path = ".".join(str(part) for part in err.get("loc", ()))
        out.append({"field": f"params.{path}" if path else "params", "message": _clean(err.get("msg", "invalid"))})
    return out
