"""Plugin report types end to end: installed with pip, listed, rendered by a worker; a missing type fails once."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import EXAMPLE_PLUGIN, ROOT, wait_status
from tests.pdf import read_pdf


def test_get_report_types_lists_each_type_with_version_and_params_schema(client, example_plugin):
    response = client.get("/report-types")
    assert response.status_code == 200
    items = {item["name"]: item for item in response.get_json()["items"]}
    operations = items["operations"]
    assert operations["version"] == "1.0" and operations["description"]
    assert "window_hours" in operations["params_schema"]["properties"]
    plugin = items[example_plugin]
    assert plugin["version"] == "1.0.0"
    assert plugin["params_schema"]["properties"]["since"]["format"] == "date"
    assert plugin["params_schema"]["properties"]["days"]["default"] == 7


def test_get_report_types_is_in_the_openapi_document(client):
    spec = client.get("/openapi.json").get_json()
    assert "get" in spec["paths"]["/report-types"]
    assert "ReportTypes" in spec["components"]["schemas"]


def test_installed_plugin_renders_through_api_and_worker_and_records_its_version(client, worker, example_plugin):
    created = client.post("/reports", json={"report_type": example_plugin, "params": {"days": 3}})
    assert created.status_code == 202, created.get_data(as_text=True)
    report_id = created.get_json()["id"]
    final = wait_status(client, report_id, {"READY", "FAILED"})
    assert final["status"] == "READY", final
    download = client.get(f"/reports/{report_id}/download")
    assert download.status_code == 200
    pages, text = read_pdf(download.data)
    assert pages == 1 and "Reports per status" in text
    record = client.get(f"/reports/{report_id}").get_json()
    assert record["report_type_version"] == "1.0.0"


def test_plugin_params_are_validated_with_422_per_field(client, example_plugin):
    response = client.post("/reports", json={"report_type": example_plugin, "params": {"days": 0}})
    assert response.status_code == 422
    fields = [d["field"] for d in response.get_json()["error"]["details"]]
    assert fields == ["params.days"]


def test_unknown_report_type_is_refused_with_422(client):
    response = client.post("/reports", json={"report_type": "nope"})
    assert response.status_code == 422
    assert response.get_json()["error"]["details"][0]["field"] == "report_type"


def test_worker_without_the_type_fails_the_report_at_once_without_retries(client, worker, example_plugin):
    from reportsvc.reports import discover, registry
    from reportsvc.worker import context

    created = client.post("/reports", json={"report_type": example_plugin})
    report_id = created.get_json()["id"]
    registry.unregister(example_plugin)  # this worker process lacks the plugin package
    try:
        final = wait_status(client, report_id, {"READY", "FAILED"}, timeout=10)
    finally:
        discover()
    assert final["status"] == "FAILED"
    assert final["error_message"] == f"report type {example_plugin} is not installed on worker {context.worker_id()}"
    assert final["attempts"] == 1
    kinds = [e["kind"] for e in client.get(f"/reports/{report_id}").get_json()["events"]]
    assert kinds.count("attempt_failed") == 1 and "claimed" in kinds


def test_the_example_plugin_passes_its_own_tests(example_plugin):
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                             str(EXAMPLE_PLUGIN / "tests")], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
