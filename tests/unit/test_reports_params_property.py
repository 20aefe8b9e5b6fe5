"""Every report type's params model bounds what its renderer can do: params either get refused naming a
field, or they render a PDF. Property-tested from each model's own JSON schema."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pypdf import PdfReader

from reportsvc import reports
from reportsvc.reports import ParamsError, get, names, validate_params
from reportsvc.reports.operations import StaticOperationsSource

#: A fixed generation time, so "one day from now" is the same for every example.
NOW = datetime.now(UTC)


def _source() -> StaticOperationsSource:
    return StaticOperationsSource(counts={"READY": 3, "FAILED": 1}, durations=[1.0, 2.0],
                                  failures=[("boom", 1)], queues=[{"queue": "reports", "waiting": 1}])


def from_schema(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Params drawn from a model's JSON schema: in-range values, plus values just past each bound and of other
    shapes (the model must refuse those). Fails loudly on a schema construct it does not know, so a new report
    type's model gets covered rather than skipped."""
    if "anyOf" in schema:
        return st.one_of([from_schema(s) for s in schema["anyOf"]])
    kind = schema.get("type")
    if kind == "object":
        props = {name: from_schema(sub) for name, sub in schema.get("properties", {}).items()}
        required = set(schema.get("required", ()))
        return st.fixed_dictionaries({k: v for k, v in props.items() if k in required},
                                     optional={k: v for k, v in props.items() if k not in required})
    if kind == "integer":
        lo, hi = schema.get("minimum", -(2**63)), schema.get("maximum", 2**63)
        return st.one_of(st.integers(lo, hi), st.sampled_from([lo - 1, hi + 1, 10**30, -(10**30)]))
    if kind == "number":
        return st.floats(allow_nan=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    if kind == "string" and schema.get("format") == "date-time":
        any_time = st.datetimes(timezones=st.timezones() | st.just(UTC)).map(lambda d: d.isoformat())
        return st.one_of(any_time, st.text(max_size=30), st.integers(-(10**12), 10**12))
    if kind == "string":
        return st.text(min_size=schema.get("minLength", 0), max_size=schema.get("maxLength", 200))
    raise AssertionError(f"the property test does not know this schema construct yet: {schema}")


def _in_range_operations_params() -> st.SearchStrategy[dict[str, object]]:
    # The schema alone rarely lands inside the sane window: also draw params that are accepted for sure.
    until = st.datetimes(min_value=datetime(2000, 1, 1), max_value=NOW.replace(tzinfo=None),
                         timezones=st.just(UTC))
    return st.fixed_dictionaries({}, optional={"window_hours": st.integers(1, 720),
                                               "until": until.map(lambda d: d.isoformat())})


def _render_or_refuse(report_type: str, raw: dict[str, object]) -> bool:
    """Validate as POST /reports does; accepted params must render a readable PDF. True when accepted."""
    try:
        clean = validate_params(report_type, raw)
    except ParamsError as exc:
        fields = [e["field"] for e in exc.errors]
        assert fields and all(f.startswith("params") for f in fields), exc.errors
        return False
    rt = get(report_type)
    data = rt.gather(_source(), clean, "Property", now=NOW)
    pdf = rt.render(data)
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) >= 1
    assert "Property" in reader.pages[0].extract_text()
    return True


def _static_source_types() -> list[str]:
    """reportsvc's own types that gather from the operations figures; plugin and table types read SQL through
    the read-only source and are rendered without a database by their own tests."""
    return [n for n in names() if get(n).package == "reportsvc" and "." not in n and n != "table"]


@pytest.mark.parametrize("report_type", _static_source_types())
def test_params_from_each_models_schema_are_refused_or_render(report_type: str) -> None:
    schema = get(report_type).params_model.model_json_schema()
    strategy = from_schema(schema)
    if report_type == "operations":
        strategy = st.one_of(strategy, _in_range_operations_params())
    accepted: list[bool] = []

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(strategy)
    def check(raw: dict[str, object]) -> None:
        accepted.append(_render_or_refuse(report_type, raw))

    check()
    assert any(accepted), "no generated params were accepted: the property never reached the renderer"


@pytest.mark.parametrize(
    ("until", "message"),
    [
        ("9999-12-31T23:59:59Z", "between"),            # rendered: OverflowError on every attempt
        ("0001-01-01T00:00:00+01:00", "between"),       # no UTC equivalent at all
        ("1999-12-31T23:59:59Z", "between"),
        ((NOW + timedelta(days=2)).isoformat(), "between"),
        (99999999999, "ISO 8601"),                      # pydantic would read Unix seconds: year 5138
        (1700000000, "ISO 8601"),
        (True, "ISO 8601"),
    ],
)
def test_until_outside_the_sane_window_is_refused_naming_the_field(until: object, message: str) -> None:
    with pytest.raises(ParamsError) as info:
        validate_params("operations", {"until": until})
    assert [e["field"] for e in info.value.errors] == ["params.until"]
    assert message in info.value.errors[0]["message"]


def test_until_at_the_window_edges_renders() -> None:
    for until in ("2000-01-01T00:00:00Z", (NOW + timedelta(hours=23)).isoformat()):
        assert _render_or_refuse("operations", {"until": until, "window_hours": 720})


def test_operations_is_among_the_types_checked() -> None:
    assert reports.DEFAULT_REPORT_TYPE in names()
