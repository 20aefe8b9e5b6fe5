"""Report types: gather data from a caller-provided source, render a PDF. No Flask, no DB session.

Importing this package registers the built-in types; add a type by adding a module that calls
`register()` and importing it below.
"""

from . import operations  # noqa: F401  (imported so the type registers itself)
from .registry import (
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
