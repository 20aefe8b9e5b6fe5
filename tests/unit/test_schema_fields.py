"""Form inputs from a params JSON Schema: the kind of input per schema construct, defaults, bounds."""

from __future__ import annotations

from datetime import date

from pydantic import AwareDatetime, BaseModel, Field

from reportsvc.web.schema_fields import fields_for, value_for


class Params(BaseModel):
    """One of each input kind."""

    since: date = Field(date(2026, 1, 1), title="From", description="First day")
    at: AwareDatetime | None = None
    count: int = Field(10, ge=1, le=50)
    share: float = 0.5
    region: str = Field("north", json_schema_extra={"enum": ["north", "south"]})
    note: str = Field(..., max_length=40)
    loud: bool = False
    title: str = "clashes with the envelope"


def _fields():
    return {f.param: f for f in fields_for(Params.model_json_schema())}


def test_each_schema_construct_gets_its_input_kind_with_defaults_and_bounds() -> None:
    f = _fields()
    assert (f["since"].kind, f["since"].default, f["since"].label, f["since"].hint) == ("date", "2026-01-01", "From",
                                                                                         "First day")
    assert f["at"].kind == "datetime-local" and f["at"].default == "" and "(UTC)" in f["at"].hint
    assert (f["count"].kind, f["count"].minimum, f["count"].maximum, f["count"].step) == ("number", "1", "50", "1")
    assert (f["share"].kind, f["share"].step) == ("number", "any")
    assert f["region"].kind == "select" and f["region"].options == ("north", "south")
    assert f["note"].kind == "text" and f["note"].required and f["note"].max_length == 40
    assert f["loud"].kind == "checkbox"


def test_a_parameter_named_like_an_envelope_field_gets_its_own_input_name() -> None:
    assert _fields()["title"].input_name == "param_title"
    assert _fields()["count"].input_name == "count"


def test_typed_values_become_what_the_api_expects() -> None:
    f = _fields()
    assert value_for(f["at"], "2026-03-01T10:30") == "2026-03-01T10:30:00Z"
    assert value_for(f["at"], "2026-03-01T10:30:00+02:00") == "2026-03-01T10:30:00+02:00"
    assert value_for(f["loud"], "on") is True and value_for(f["loud"], "") is False
    assert value_for(f["count"], "7") == "7"
