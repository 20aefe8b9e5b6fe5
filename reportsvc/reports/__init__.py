"""Report types: gather data from a caller-provided source, render a PDF. No Flask, no DB session.

Importing this package registers the built-in types; add a type by adding a module that calls
`register()` and importing it below.
"""

from reportlab import rl_config

# ReportLab validates every attribute set on a graphics shape while shapeChecking is on: a development aid
# that cost ~18 % of a report's render time here. The graphics module reads the flag when first imported,
# so it is switched off before any report module imports it. (The C helpers come from reportlab[accel].)
rl_config.shapeChecking = 0

from reportsvc.reports import operations  # noqa: E402, F401  (imported so the type registers itself)
from reportsvc.reports.registry import (  # noqa: E402
    ParamsError,
    ReportType,
    UnknownReportType,
    get,
    names,
    register,
    validate_params,
)

DEFAULT_REPORT_TYPE = "operations"

__all__ = [
    "DEFAULT_REPORT_TYPE",
    "ParamsError",
    "ReportType",
    "UnknownReportType",
    "get",
    "names",
    "register",
    "validate_params",
]
