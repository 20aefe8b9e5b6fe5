"""The console's generate form, built from each type's params schema: plugins and datasets get theirs."""

from __future__ import annotations

import re

from reportsvc.reports.datasets import resolve_relative
from tests.integration.test_table_report import DATASETS

HTMX = {"HX-Request": "true"}


def _form(client, report_type: str) -> str:
    response = client.get(f"/console/reports/form?report_type={report_type}", headers=HTMX)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _input(html: str, name: str) -> str:
    found = re.search(rf'<(?:input|select)[^>]*\bid="{name}"[^>]*>', html)
    assert found, name
    return found.group(0)


def test_the_type_select_offers_every_type_and_each_dataset(client, settings, tmp_path, example_plugin):
    path = tmp_path / "datasets.toml"
    path.write_text(DATASETS)
    settings(report_datasets_file=path)
    html = client.get("/console/").get_data(as_text=True)
    options = re.findall(r'<option value="([^"]+)"', html.split('id="report_type"')[1].split("</select>")[0])
    assert {"operations", example_plugin, "table.numbers", "table.echo"} <= set(options)


def test_a_dataset_form_has_its_inputs_with_defaults(client, settings, tmp_path):
    path = tmp_path / "datasets.toml"
    path.write_text(DATASETS + '\n[datasets.dated]\nsql = "SELECT :since AS d, :kind AS k"\n'
                    '[datasets.dated.params.since]\ntype = "date"\ndefault = "today-7d"\n'
                    '[datasets.dated.params.kind]\ntype = "choice"\nvalues = ["a", "b"]\ndefault = "b"\n')
    settings(report_datasets_file=path)
    numbers = _form(client, "table.numbers")
    count = _input(numbers, "count")
    assert 'type="number"' in count and 'min="0"' in count and 'max="1000000"' in count and 'value="100"' in count
    assert "window_hours" not in numbers  # no other type's inputs
    dated = _form(client, "table.dated")
    since = _input(dated, "since")
    assert 'type="date"' in since and f'value="{resolve_relative("today-7d", "date").isoformat()}"' in since
    assert '<option value="b" selected>' in dated


def test_the_plugin_gets_a_form_from_its_schema(client, example_plugin):
    html = _form(client, example_plugin)
    assert 'type="date"' in _input(html, "since")
    assert 'min="1"' in _input(html, "days") and 'value="7"' in _input(html, "days")


def test_bad_dataset_values_come_back_inline_per_field_with_422(client, settings, tmp_path):
    path = tmp_path / "datasets.toml"
    path.write_text(DATASETS)
    settings(report_datasets_file=path)
    response = client.post("/console/reports", data={"report_type": "table.numbers", "count": "-5"}, headers=HTMX)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'aria-invalid="true"' in _input(html, "count") and 'id="count-error"' in html
    missing = client.post("/console/reports", data={"report_type": "table.echo"}, headers=HTMX)
    assert missing.status_code == 422 and 'aria-invalid="true"' in _input(missing.get_data(as_text=True), "needle")
    assert client.get("/reports").get_json()["items"] == []


def test_a_dataset_form_queues_the_report_with_its_params(client, settings, tmp_path):
    path = tmp_path / "datasets.toml"
    path.write_text(DATASETS)
    settings(report_datasets_file=path)
    response = client.post("/console/reports", data={"report_type": "table.numbers", "count": "42",
                                                     "title": "From the dataset form"}, headers=HTMX)
    assert response.status_code == 201
    item = client.get("/reports").get_json()["items"][0]
    assert (item["report_type"], item["title"], item["params"]) == ("table.numbers", "From the dataset form",
                                                                    {"count": 42})


def test_operations_until_typed_in_the_picker_is_read_as_utc(client):
    response = client.post("/console/reports", data={"report_type": "operations", "window_hours": "6",
                                                     "until": "2026-01-02T03:04"}, headers=HTMX)
    assert response.status_code == 201
    params = client.get("/reports").get_json()["items"][0]["params"]
    assert params["window_hours"] == 6 and params["until"].startswith("2026-01-02T03:04:00")
