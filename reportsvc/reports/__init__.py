"""Report types: gather data from a caller-provided source, render a PDF. No Flask, no DB session.

Types are found through the entry-point group `reportsvc.report_types` (`discovery`), built-ins included:
every process calls `discover()` at start-up, and the registry discovers on first use otherwise.
"""

from reportlab import rl_config

# ReportLab validates every attribute set on a graphics shape while shapeChecking is on: a development aid
# that cost ~18 % of a report's render time here. The graphics module reads the flag when first imported,
# so it is switched off before any report module imports it. (The C helpers come from reportlab[accel].)
rl_config.shapeChecking = 0

from reportsvc.reports.discovery import ReportTypeConflict, discover  # noqa: E402
from reportsvc.reports.registry import (  # noqa: E402
    ParamsError,
    ReportType,
    UnknownReportType,
    get,
    names,
    offered,
    register,
    validate_params,
)

DEFAULT_REPORT_TYPE = "operations"

__all__ = [
    "DEFAULT_REPORT_TYPE",
    "ParamsError",
    "ReportType",
    "ReportTypeConflict",
    "UnknownReportType",
    "discover",
    "get",
    "names",
    "offered",
    "register",
    "validate_params",
]
