"""A dataset's generate form in a real browser: pick the dataset, fill its schema-built inputs, download the PDF."""

from __future__ import annotations

import re

import pytest

from tests.integration.test_table_report import DATASETS
from tests.pdf import read_pdf

pytestmark = pytest.mark.browser


def test_fill_a_dataset_form_and_download_its_pdf(page, worker, settings, tmp_path, shoot) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "datasets.toml"
    path.write_text(DATASETS)
    settings(report_datasets_file=path)
    page.goto("/console/")
    page.locator("#generate > summary").click()
    form = page.locator("#generate-form")
    form.get_by_label("Title").fill("Numbers from the browser")
    form.get_by_label("Report type").select_option("table.numbers")
    count = form.get_by_label("Count")  # swapped in from the dataset's schema
    count.wait_for()
    assert count.get_attribute("type") == "number" and count.input_value() == "100"
    assert form.get_by_label("Title").input_value() == "Numbers from the browser"  # kept across the switch
    count.fill("-3")
    page.get_by_role("button", name="Queue report").click()
    page.locator("#count-error").wait_for()
    assert count.get_attribute("aria-invalid") == "true"
    shoot(page, "dataset-form-error")
    form.get_by_label("Count").fill("250")
    page.get_by_role("button", name="Queue report").click()
    page.get_by_text("queued").first.wait_for()
    row = page.locator("#report-rows tr", has=page.locator(".title-link", has_text="Numbers from the browser"))
    row.locator(".badge[data-status=READY]").wait_for(timeout=30_000)
    with page.expect_download() as download:
        row.get_by_role("link", name=re.compile("Download")).click()
    pages, text = read_pdf(download.value.path().read_bytes())
    assert pages >= 5 and "row 250" in text and "Parameters: Count: 250" in text
    shoot(page, "dataset-report-ready")
