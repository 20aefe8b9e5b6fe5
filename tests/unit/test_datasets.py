"""The datasets file: parsing, errors with their line, parameter models and schemas, reload keeping the last good."""

from __future__ import annotations

import os
import textwrap
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from reportsvc.reports import ParamsError
from reportsvc.reports.dataset_catalog import DatasetCatalog
from reportsvc.reports.datasets import DatasetFileError, parse_datasets, resolve_relative

ROOT = Path(__file__).resolve().parents[2]

GOOD = textwrap.dedent('''\
    [datasets.orders_by_day]
    description = "Orders per day"
    sql = "SELECT day, orders FROM daily_orders WHERE day >= :since AND region = :region AND n < :limit"
    totals = ["orders"]

    [datasets.orders_by_day.params.since]
    type = "date"
    default = "today-7d"

    [datasets.orders_by_day.params.region]
    type = "choice"
    values = ["north", "south"]
    default = "north"

    [datasets.orders_by_day.params.limit]
    type = "int"
    min = 1
    max = 1000

    [datasets.orders_by_day.columns.orders]
    format = "number"

    [datasets.orders_by_day.chart]
    type = "bar"
    x = "day"
    y = "orders"
    ''')


def _error(text: str) -> DatasetFileError:
    with pytest.raises(DatasetFileError) as info:
        parse_datasets(text)
    return info.value


def test_a_good_file_gives_datasets_with_typed_params_columns_and_chart() -> None:
    ds = parse_datasets(GOOD)["orders_by_day"]
    assert [p.name for p in ds.params] == ["since", "region", "limit"]
    assert ds.totals == ("orders",) and ds.columns["orders"].format == "number"
    assert ds.chart is not None and ds.chart.y == ("orders",)
    assert ds.title == "Orders by day"


def test_the_sample_file_that_ships_parses() -> None:
    datasets = parse_datasets((ROOT / "examples" / "datasets.toml").read_text())
    assert set(datasets) == {"reports_per_day", "report_log"}


def test_toml_syntax_errors_carry_their_line() -> None:
    err = _error('[datasets.a]\nsql = "SELECT 1"\ndescription = "unterminated\n')
    assert err.line == 3 and "not valid TOML" in err.reason


def test_an_unknown_param_type_names_the_line_of_its_type_key() -> None:
    err = _error(GOOD.replace('type = "int"', 'type = "integer"'))
    assert err.line == GOOD.splitlines().index('type = "int"') + 1
    assert "type must be one of" in err.reason and "'limit'" in err.reason


def test_sql_using_an_undeclared_parameter_is_refused_at_the_sql_line() -> None:
    err = _error(GOOD.replace("AND n < :limit", "AND n < :lmit"))
    assert err.line == 3 and ":lmit" in err.reason


def test_a_choice_default_outside_its_values_is_refused_at_the_default_line() -> None:
    err = _error(GOOD.replace('default = "north"', 'default = "west"'))
    assert err.line == GOOD.splitlines().index('default = "north"') + 1
    assert "'west'" in err.reason


def test_a_bad_relative_date_default_is_refused_with_its_line() -> None:
    err = _error(GOOD.replace('default = "today-7d"', 'default = "last week"'))
    assert err.line == 8 and "today-7d" in err.reason


def test_unknown_keys_and_bad_formats_are_refused_with_their_lines() -> None:
    assert _error(GOOD.replace('totals = ["orders"]', 'totalz = ["orders"]')).line == 4
    err = _error(GOOD.replace('format = "number"', 'format = "money"'))
    assert err.line == GOOD.splitlines().index('format = "number"') + 1


def test_a_casts_double_colon_is_not_a_parameter() -> None:
    text = '[datasets.d]\nsql = "SELECT created_at::date AS day, \'a:b\' FROM t WHERE x = :p"\n' \
           '[datasets.d.params.p]\ntype = "text"\ndefault = ""\n'
    assert [p.name for p in parse_datasets(text)["d"].params] == ["p"]


def test_params_model_applies_defaults_and_refuses_bad_values_per_field() -> None:
    model = parse_datasets(GOOD)["orders_by_day"].params_model()
    ok = model.model_validate({"limit": 5})
    assert ok.region == "north" and isinstance(ok.since, date)  # type: ignore[attr-defined]
    from reportsvc.reports.registry import _errors_from

    with pytest.raises(Exception) as info:
        model.model_validate({"limit": 0, "region": "west", "extra": 1})
    fields = sorted(e["field"] for e in _errors_from(info.value))  # type: ignore[arg-type]
    assert fields == ["params.extra", "params.limit", "params.region"]
    assert isinstance(ParamsError([]), ValueError)


def test_params_schema_has_formats_enums_bounds_and_current_defaults() -> None:
    schema = parse_datasets(GOOD)["orders_by_day"].params_model().model_json_schema()
    props = schema["properties"]
    assert props["since"]["format"] == "date" and props["since"]["x-default-expr"] == "today-7d"
    assert props["since"]["default"] == resolve_relative("today-7d", "date").isoformat()
    assert props["region"]["enum"] == ["north", "south"] and props["region"]["default"] == "north"
    assert props["limit"]["minimum"] == 1 and props["limit"]["maximum"] == 1000
    assert schema["required"] == ["limit"]


def test_relative_defaults_resolve_against_now() -> None:
    now = datetime(2026, 3, 10, 15, 30, tzinfo=UTC)
    assert resolve_relative("today-7d", "date", now) == date(2026, 3, 3)
    assert resolve_relative("now-24h", "datetime", now) == datetime(2026, 3, 9, 15, 30, tzinfo=UTC)
    assert resolve_relative("today", "datetime", now) == datetime(2026, 3, 10, tzinfo=UTC)


def test_catalog_reloads_on_change_and_keeps_the_last_good_file(tmp_path: Path) -> None:
    path = tmp_path / "datasets.toml"
    catalog = DatasetCatalog(path)
    assert catalog.datasets() == {}
    path.write_text(GOOD)
    assert set(catalog.datasets()) == {"orders_by_day"}
    path.write_text(GOOD + "\n[datasets.broken]\nsql = 3\n")
    os.utime(path, ns=(1, 2))  # a different stamp even within the filesystem's time resolution
    assert set(catalog.datasets()) == {"orders_by_day"}
    assert catalog.last_error is not None and catalog.last_error.line == GOOD.count("\n") + 2
    path.write_text(GOOD.replace("orders_by_day", "orders_daily"))
    assert set(catalog.datasets()) == {"orders_daily"} and catalog.last_error is None


def test_a_statement_that_is_not_a_query_is_refused_at_the_sql_line() -> None:
    err = _error('[datasets.w]\ndescription = "writes"\nsql = "UPDATE report_requests SET title = 1"\n')
    assert err.line == 3 and "must be a query" in err.reason
    ok = parse_datasets('[datasets.c]\nsql = """\n-- a comment first\n  WITH x AS (SELECT 1) SELECT * FROM x"""\n')
    assert "c" in ok
