"""Report type `table`: one type per dataset of the datasets file, named `table.<dataset>`.

The family itself is registered through its entry point (`table` in pyproject.toml); its variants come from
the datasets file of this process (REPORT_DATASETS_FILE, reloaded when it changes). A variant's version is
the table renderer's version plus a digest of the dataset's definition, so each report records which
definition rendered it.
"""

from __future__ import annotations

import threading
from functools import partial

from pydantic import BaseModel, ConfigDict

from reportsvc.config import get_settings
from reportsvc.reports.dataset_catalog import DatasetCatalog, catalog_for
from reportsvc.reports.datasets import Dataset
from reportsvc.reports.registry import ReportType
from reportsvc.reports.table_data import gather
from reportsvc.reports.table_pdf import render

#: The renderer's version; bump when the PDF layout changes.
TABLE_VERSION = "1.0"

_variants: dict[tuple[str, str], ReportType] = {}
_variants_lock = threading.Lock()


class NoParams(BaseModel):
    """The family has no params of its own: each dataset brings its model."""

    model_config = ConfigDict(extra="forbid")


def catalog() -> DatasetCatalog:
    """This process's datasets file (REPORT_DATASETS_FILE)."""
    return catalog_for(get_settings().report_datasets_file)


def type_for(dataset: Dataset) -> ReportType:
    """The report type `table.<dataset>` (built once per dataset definition)."""
    key = (dataset.name, dataset.digest)
    with _variants_lock:
        found = _variants.get(key)
        if found is None:
            found = _variants[key] = ReportType(
                name=f"table.{dataset.name}",
                description=dataset.description or dataset.title,
                params_model=dataset.params_model(),
                gather=partial(gather, dataset),
                render=render,
                version=f"{TABLE_VERSION}+{dataset.digest}",
            )
        return found


def variants() -> list[ReportType]:
    """One type per dataset of the current file."""
    return [type_for(ds) for ds in catalog().datasets().values()]


def variant(name: str) -> ReportType | None:
    """`table.<name>`, or None when the current file has no such dataset."""
    dataset = catalog().get(name)
    return type_for(dataset) if dataset is not None else None


#: Registered through the entry point `table` in pyproject.toml (`reportsvc.report_types`).
TABLE = ReportType(
    name="table",
    description="A paginated table of an admin-defined dataset (REPORT_DATASETS_FILE).",
    params_model=NoParams,
    gather=gather,
    render=render,
    version=TABLE_VERSION,
    variants=variants,
    variant=variant,
)
