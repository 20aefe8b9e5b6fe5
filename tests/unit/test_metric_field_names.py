"""metrics.series.field_name remembers the series it built: the same text as building it, whatever the order."""

from __future__ import annotations

from reportsvc.metrics import series


def test_a_remembered_field_name_is_the_one_built_and_ignores_label_order() -> None:
    first = series.field_name("reports_completed_total", {"report_type": "a|b", "outcome": "READY"})
    again = series.field_name("reports_completed_total", {"outcome": "READY", "report_type": "a|b"})
    assert first == again == "reports_completed_total|outcome=READY,report_type=a_b"


def test_equal_label_values_of_other_types_keep_their_own_text() -> None:
    assert series.field_name("x_total", {"flag": 1}) == "x_total|flag=1"
    assert series.field_name("x_total", {"flag": True}) == "x_total|flag=True"


def test_an_unhashable_label_value_is_built_each_time() -> None:
    assert series.field_name("x_total", {"ids": [1, 2]}) == "x_total|ids=[1_ 2]"


def test_past_the_bound_names_are_still_built(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(series, "_FIELD_NAMES_MAX", 0)
    monkeypatch.setattr(series, "_FIELD_NAMES", {})
    assert series.field_name("y_total", {"k": "v"}) == "y_total|k=v"
    assert series._FIELD_NAMES == {}
