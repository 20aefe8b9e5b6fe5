"""Registry and params validation of report types."""

from __future__ import annotations

import json

import pytest
from pydantic import BaseModel, ConfigDict

from reportsvc import reports
from reportsvc.reports import ParamsError, ReportType, UnknownReportType, get, names, register, validate_params


def _fields(exc: ParamsError) -> list[str]:
    return [e["field"] for e in exc.errors]


def test_operations_is_registered_and_default() -> None:
    assert "operations" in names()
    assert reports.DEFAULT_REPORT_TYPE == "operations"
    rt = get("operations")
    assert rt.name == "operations"
    assert rt.description
    assert callable(rt.gather) and callable(rt.render)


def test_defaults_are_normalized_and_json_serializable() -> None:
    params = validate_params("operations", {})
    assert params == {"window_hours": 24, "until": None}
    json.dumps(params)
    assert validate_params("operations", None) == params


def test_until_is_normalized_to_utc_iso() -> None:
    params = validate_params("operations", {"window_hours": "48", "until": "2025-03-14T12:00:00+02:00"})
    assert params["window_hours"] == 48
    assert params["until"] in ("2025-03-14T10:00:00Z", "2025-03-14T10:00:00+00:00")


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"window_hours": 0}, "params.window_hours"),
        ({"window_hours": 1000}, "params.window_hours"),
        ({"window_hours": 721}, "params.window_hours"),
        ({"window_hours": "abc"}, "params.window_hours"),
        ({"window_hours": 1.5}, "params.window_hours"),
        ({"until": "yesterday"}, "params.until"),
        ({"until": "2025-03-14T10:00:00"}, "params.until"),  # naive: ambiguous, refused
        ({"colour": "blue"}, "params.colour"),
    ],
)
def test_bad_params_name_the_field(raw: dict[str, object], field: str) -> None:
    with pytest.raises(ParamsError) as info:
        validate_params("operations", raw)
    assert _fields(info.value) == [field]
    assert all(e["message"] for e in info.value.errors)


def test_bounds_are_inclusive() -> None:
    assert validate_params("operations", {"window_hours": 1})["window_hours"] == 1
    assert validate_params("operations", {"window_hours": 720})["window_hours"] == 720


def test_several_errors_are_all_reported() -> None:
    with pytest.raises(ParamsError) as info:
        validate_params("operations", {"window_hours": 0, "extra": 1})
    assert sorted(_fields(info.value)) == ["params.extra", "params.window_hours"]


def test_params_must_be_an_object() -> None:
    with pytest.raises(ParamsError) as info:
        validate_params("operations", ["window_hours", 1])  # type: ignore[arg-type]
    assert _fields(info.value) == ["params"]


def test_unknown_type_is_a_params_error_on_report_type() -> None:
    with pytest.raises(UnknownReportType) as info:
        validate_params("nope", {})
    assert isinstance(info.value, ParamsError)
    assert _fields(info.value) == ["report_type"]
    assert "nope" in info.value.errors[0]["message"]
    assert "operations" in info.value.errors[0]["message"]
    with pytest.raises(UnknownReportType):
        get("nope")


def test_nested_loc_is_joined_with_dots() -> None:
    class Inner(BaseModel):
        model_config = ConfigDict(extra="forbid")
        size: int

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        inner: Inner

    rt = register(
        ReportType(
            name="test-nested",
            description="test only",
            params_model=Params,
            gather=lambda source, params: None,
            render=lambda data: b"",
        )
    )
    try:
        with pytest.raises(ParamsError) as info:
            validate_params("test-nested", {"inner": {"size": "x"}})
        assert _fields(info.value) == ["params.inner.size"]
        assert "test-nested" in names()
        assert get("test-nested") is rt
    finally:
        from reportsvc.reports import registry

        registry._REGISTRY.pop("test-nested", None)
    assert "test-nested" not in names()
