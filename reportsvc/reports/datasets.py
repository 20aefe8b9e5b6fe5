"""Datasets of the `table` report: admin-defined SQL with typed parameters, read from a TOML file.

Pure: text in, `Dataset`s out (Python 3.11's `tomllib`); no database. A bad file is refused with the line
and the reason (`DatasetFileError`): tomllib's own syntax errors carry their line, and every check of a
dataset names the line of the key it is about. The shape (README "Datasets and the table report"):

    [datasets.orders_by_day]
    description = "Orders per day"
    sql = "SELECT day, orders FROM daily_orders WHERE day >= :since"
    totals = ["orders"]
    [datasets.orders_by_day.params.since]
    type = "date"            # date, datetime, int, float, text, choice (with values = [...])
    default = "today-30d"    # or a TOML date; now/now-24h for datetime
    [datasets.orders_by_day.columns.orders]
    format = "number"        # number, percent, currency (with currency = "EUR"), date
    [datasets.orders_by_day.chart]
    type = "line"            # or bar
    x = "day"
    y = ["orders"]
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

PARAM_TYPES = ("date", "datetime", "int", "float", "text", "choice")
FORMATS = ("number", "percent", "currency", "date", "text")
CHARTS = ("bar", "line")
NAME = re.compile(r"^[a-z][a-z0-9_]{0,47}$")
#: `:name` placeholders as SQLAlchemy's text() finds them (a `::cast` and `\:` are not placeholders).
PLACEHOLDER = re.compile(r"(?<![:\w\\]):([A-Za-z_]\w*)(?![:\w])")
RELATIVE = re.compile(r"^(today|now)\s*(?:([+-])\s*(\d+)\s*([dhm]))?$")
TEXT_MAX_LENGTH = 500


class DatasetFileError(ValueError):
    """The datasets file cannot be used: `line` (1-based, or None when unknown) and the reason."""

    def __init__(self, reason: str, line: int | None) -> None:
        self.reason, self.line = reason, line
        super().__init__(f"line {line}: {reason}" if line else reason)


@dataclass(frozen=True)
class Param:
    """One parameter of a dataset's SQL: its type, default (literal or relative) and choices."""

    name: str
    type: str
    label: str
    default: Any = None
    required: bool = True
    values: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    description: str = ""

    def default_value(self, now: datetime | None = None) -> Any:
        """The default for a report created now (relative defaults like `today-7d` resolved)."""
        if isinstance(self.default, str) and self.type in ("date", "datetime"):
            return resolve_relative(self.default, self.type, now)
        return self.default


@dataclass(frozen=True)
class Column:
    """How one result column is shown: label, format, decimals, currency code."""

    name: str
    label: str | None = None
    format: str | None = None
    decimals: int | None = None
    currency: str = ""


@dataclass(frozen=True)
class Chart:
    """An optional chart above the table: bar or line, x column, y columns."""

    type: str
    x: str
    y: tuple[str, ...]


@dataclass(frozen=True)
class Dataset:
    """One dataset: SQL, its parameters, column formats, totals and chart; `digest` names this definition."""

    name: str
    description: str
    sql: str
    title: str
    params: tuple[Param, ...] = ()
    columns: dict[str, Column] = field(default_factory=dict)
    totals: tuple[str, ...] = ()
    chart: Chart | None = None
    digest: str = ""

    def params_model(self) -> type[BaseModel]:
        """A pydantic model of the parameters: its JSON Schema drives the console form and the API."""
        fields: dict[str, Any] = {p.name: _field(p) for p in self.params}
        model = create_model(  # type: ignore[call-overload]
            f"Table_{self.name}_Params", __config__=ConfigDict(extra="forbid", title=self.title), **fields)
        model.__doc__ = self.description or self.title
        return model  # type: ignore[no-any-return]


def resolve_relative(expr: str, kind: str, now: datetime | None = None) -> date | datetime:
    """`today`, `today-7d`, `now-24h`, ... as a date (kind date) or an aware datetime (kind datetime)."""
    match = RELATIVE.match(expr.strip())
    if match is None:
        raise ValueError(f"{expr!r} is not a date/datetime default (use e.g. today, today-7d, now-24h)")
    base, sign, amount, unit = match.groups()
    now = now or datetime.now(UTC)
    start = now if base == "now" else datetime.combine(now.date(), time(0), tzinfo=now.tzinfo or UTC)
    if amount:
        delta = {"d": timedelta(days=int(amount)), "h": timedelta(hours=int(amount)),
                 "m": timedelta(minutes=int(amount))}[unit]
        start = start - delta if sign == "-" else start + delta
    return start.date() if kind == "date" else start


_PY_TYPES: dict[str, Any] = {"date": date, "datetime": datetime, "int": int, "float": float, "text": str}


def _field(p: Param) -> tuple[Any, Any]:
    kind: Any = Literal[tuple(p.values)] if p.type == "choice" else _PY_TYPES[p.type]  # type: ignore[valid-type]
    extra: dict[str, Any] = {}
    if p.type == "text":
        extra["max_length"] = TEXT_MAX_LENGTH
    if p.minimum is not None:
        extra["ge"] = p.minimum
    if p.maximum is not None:
        extra["le"] = p.maximum
    if p.required:
        return kind, Field(..., title=p.label, description=p.description or None, **extra)
    if isinstance(p.default, str) and p.type in ("date", "datetime"):
        expr = p.default

        def schema_default(schema: dict[str, Any]) -> None:
            # The form shows the default as of now; the expression says how it moves.
            schema["default"] = p.default_value().isoformat()
            schema["x-default-expr"] = expr

        return kind, Field(default_factory=lambda: p.default_value(), title=p.label,
                           description=p.description or None, json_schema_extra=schema_default, **extra)
    return kind, Field(p.default, title=p.label, description=p.description or None, **extra)


def _line_finder(text: str) -> Callable[..., int | None]:
    """line_of(dataset, section=None, key=None): the line of `[datasets.<d>(.<section>)]` or of `key =` in it."""
    lines = text.splitlines()

    def line_of(dataset: str, section: str | None = None, key: str | None = None) -> int | None:
        header = f"datasets.{dataset}" + (f".{section}" if section else "")
        start = None
        for number, raw in enumerate(lines, 1):
            stripped = raw.strip().replace(" ", "")
            if stripped.startswith("[") and stripped.strip("[]") == header:
                start = number
                if key is None:
                    return number
                continue
            if start is not None and key is not None:
                if stripped.startswith("["):
                    break
                if re.match(rf"^\s*\"?{re.escape(key)}\"?\s*=", raw):
                    return number
        return start

    return line_of


def parse_datasets(text: str) -> dict[str, Dataset]:
    """Every dataset of a TOML text, checked; raises DatasetFileError with the line and the reason."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"line (\d+)", str(exc))
        raise DatasetFileError(f"not valid TOML: {exc}", int(found.group(1)) if found else None) from None
    line_of = _line_finder(text)
    unknown = set(doc) - {"datasets"}
    if unknown:
        raise DatasetFileError(f"unknown top-level key {sorted(unknown)[0]!r} (expected [datasets.<name>])", None)
    raw = doc.get("datasets", {})
    if not isinstance(raw, dict):
        raise DatasetFileError("`datasets` must be a table of datasets", None)
    return {name: _dataset(name, spec, line_of) for name, spec in raw.items()}


def _need(condition: bool, reason: str, line: int | None) -> None:
    if not condition:
        raise DatasetFileError(reason, line)


def _dataset(name: str, spec: Any, line_of: Callable[..., int | None]) -> Dataset:
    where = line_of(name)
    _need(bool(NAME.match(name)), f"dataset name {name!r} must be lowercase letters, digits and _ (at most 48)",
          where)
    _need(isinstance(spec, dict), f"dataset {name!r} must be a table", where)
    allowed = {"title", "description", "sql", "params", "columns", "totals", "chart"}
    for key in spec:
        _need(key in allowed, f"dataset {name!r}: unknown key {key!r} (allowed: {', '.join(sorted(allowed))})",
              line_of(name, key=key) or where)
    sql = spec.get("sql")
    _need(isinstance(sql, str) and sql.strip() != "", f"dataset {name!r} needs `sql` (a non-empty string)", where)
    first_word = re.sub(r"^(\s|--[^\n]*\n|/\*.*?\*/)*", "", sql, flags=re.S).split(None, 1)[0].upper() \
        if sql.strip() else ""
    _need(first_word.rstrip("(") in ("SELECT", "WITH", "VALUES", "TABLE"),
          f"dataset {name!r}: sql must be a query (SELECT, WITH, VALUES or TABLE); datasets run read-only",
          line_of(name, key="sql"))
    for key in ("title", "description"):
        _need(isinstance(spec.get(key, ""), str), f"dataset {name!r}: {key} must be a string",
              line_of(name, key=key))
    params = tuple(_param(name, pname, pspec, line_of) for pname, pspec in spec.get("params", {}).items())
    declared = {p.name for p in params}
    for used in PLACEHOLDER.findall(sql):
        _need(used in declared, f"dataset {name!r}: the SQL uses :{used} but no parameter {used!r} is declared "
              f"under [datasets.{name}.params.{used}]", line_of(name, key="sql"))
    columns = {cname: _column(name, cname, cspec, line_of) for cname, cspec in spec.get("columns", {}).items()}
    totals = spec.get("totals", [])
    _need(isinstance(totals, list) and all(isinstance(t, str) for t in totals),
          f"dataset {name!r}: totals must be a list of column names", line_of(name, key="totals"))
    chart = _chart(name, spec["chart"], line_of) if "chart" in spec else None
    digest = hashlib.sha256(repr(sorted(spec.items(), key=lambda kv: kv[0])).encode()).hexdigest()[:8]
    return Dataset(name=name, description=spec.get("description", ""), sql=sql,
                   title=spec.get("title") or name.replace("_", " ").capitalize(), params=params, columns=columns,
                   totals=tuple(totals), chart=chart, digest=digest)


def _param(dataset: str, name: str, spec: Any, line_of: Callable[..., int | None]) -> Param:
    where = line_of(dataset, f"params.{name}")
    label = f"dataset {dataset!r}, parameter {name!r}"
    _need(bool(NAME.match(name)), f"{label}: name must be lowercase letters, digits and _", where)
    _need(isinstance(spec, dict), f"{label} must be a table with a type", where)
    allowed = {"type", "default", "values", "label", "description", "min", "max"}
    for key in spec:
        _need(key in allowed, f"{label}: unknown key {key!r}", line_of(dataset, f"params.{name}", key) or where)
    kind = spec.get("type")
    _need(kind in PARAM_TYPES, f"{label}: type must be one of {', '.join(PARAM_TYPES)} (got {kind!r})",
          line_of(dataset, f"params.{name}", "type") or where)
    values: tuple[str, ...] = ()
    if kind == "choice":
        raw_values = spec.get("values")
        _need(isinstance(raw_values, list) and bool(raw_values) and all(isinstance(v, str) for v in raw_values),
              f"{label}: a choice needs values = [\"...\", ...]", line_of(dataset, f"params.{name}", "values") or where)
        values = tuple(raw_values)
    default = spec.get("default")
    default_line = line_of(dataset, f"params.{name}", "default") or where
    if default is not None:
        _check_default(label, kind, default, values, default_line)
    bounds = {k: spec.get(k) for k in ("min", "max")}
    for key, bound in bounds.items():
        _need(bound is None or (kind in ("int", "float") and isinstance(bound, int | float)),
              f"{label}: {key} is only for int and float parameters, and must be a number",
              line_of(dataset, f"params.{name}", key) or where)
    return Param(name=name, type=kind, label=spec.get("label") or name.replace("_", " ").capitalize(),
                 default=default, required=default is None, values=values, minimum=bounds["min"],
                 maximum=bounds["max"], description=spec.get("description", ""))


def _check_default(label: str, kind: str, default: Any, values: tuple[str, ...], line: int | None) -> None:
    if kind in ("date", "datetime"):
        if isinstance(default, str):
            try:
                resolve_relative(default, kind)
            except ValueError as exc:
                raise DatasetFileError(f"{label}: {exc}", line) from None
            return
        ok = isinstance(default, datetime) if kind == "datetime" else (
            isinstance(default, date) and not isinstance(default, datetime))
        _need(ok, f"{label}: default must be a TOML {kind} or a relative default like today-7d", line)
    elif kind == "int":
        _need(isinstance(default, int) and not isinstance(default, bool), f"{label}: default must be a whole number",
              line)
    elif kind == "float":
        _need(isinstance(default, int | float) and not isinstance(default, bool), f"{label}: default must be a number",
              line)
    elif kind == "choice":
        _need(default in values, f"{label}: default {default!r} is not one of its values", line)
    else:
        _need(isinstance(default, str), f"{label}: default must be a string", line)


def _column(dataset: str, name: str, spec: Any, line_of: Callable[..., int | None]) -> Column:
    where = line_of(dataset, f"columns.{name}")
    label = f"dataset {dataset!r}, column {name!r}"
    _need(isinstance(spec, dict), f"{label} must be a table", where)
    allowed = {"label", "format", "decimals", "currency"}
    for key in spec:
        _need(key in allowed, f"{label}: unknown key {key!r}", line_of(dataset, f"columns.{name}", key) or where)
    fmt = spec.get("format")
    _need(fmt is None or fmt in FORMATS, f"{label}: format must be one of {', '.join(FORMATS)} (got {fmt!r})",
          line_of(dataset, f"columns.{name}", "format") or where)
    decimals = spec.get("decimals")
    _need(decimals is None or (isinstance(decimals, int) and 0 <= decimals <= 10),
          f"{label}: decimals must be 0..10", line_of(dataset, f"columns.{name}", "decimals") or where)
    return Column(name=name, label=spec.get("label"), format=fmt, decimals=decimals,
                  currency=str(spec.get("currency", "")))


def _chart(dataset: str, spec: Any, line_of: Callable[..., int | None]) -> Chart:
    where = line_of(dataset, "chart")
    label = f"dataset {dataset!r}, chart"
    _need(isinstance(spec, dict), f"{label} must be a table", where)
    kind = spec.get("type")
    _need(kind in CHARTS, f"{label}: type must be bar or line (got {kind!r})", line_of(dataset, "chart", "type"))
    x, y = spec.get("x"), spec.get("y")
    _need(isinstance(x, str), f"{label}: x must be a column name", line_of(dataset, "chart", "x") or where)
    if isinstance(y, str):
        y = [y]
    _need(isinstance(y, list) and bool(y) and all(isinstance(v, str) for v in y),
          f"{label}: y must be a column name or a list of them", line_of(dataset, "chart", "y") or where)
    return Chart(type=kind, x=x, y=tuple(y))
