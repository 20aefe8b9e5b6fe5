"""Report type `operations`: an operations summary of this service for a time window.

The data side (params, source protocol, `gather`) lives in `operations_data`, the PDF side
(`render`, a pure function from data to bytes) in `operations_pdf`; this module declares the pair
(registered through its entry point, see `discovery`).
"""

from __future__ import annotations

from reportsvc.reports.operations_data import (
    DEFAULT_TITLE,
    STATUSES,
    TOP_FAILURES_LIMIT,
    HourBucket,
    OperationsData,
    OperationsParams,
    OperationsSource,
    QueueDepth,
    StaticOperationsSource,
    gather,
    percentiles,
)
from reportsvc.reports.operations_pdf import render
from reportsvc.reports.registry import ReportType

__all__ = [
    "DEFAULT_TITLE",
    "STATUSES",
    "TOP_FAILURES_LIMIT",
    "HourBucket",
    "OperationsData",
    "OperationsParams",
    "OperationsSource",
    "QueueDepth",
    "StaticOperationsSource",
    "gather",
    "percentiles",
    "render",
]

#: Registered through the entry point `operations` in pyproject.toml (`reportsvc.report_types`).
OPERATIONS = ReportType(
    name="operations",
    description="An operations summary of this service for a time window.",
    params_model=OperationsParams,
    gather=gather,
    render=render,
    version="1.0",
)
