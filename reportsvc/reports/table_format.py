"""Cell values of the table report as text: numbers with thousands separators, percents, currency, dates."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from reportsvc.reports.datasets import Column


def is_number(value: Any) -> bool:
    """True for the values that are right-aligned and can be totalled (not booleans)."""
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def format_value(value: Any, column: Column | None) -> str:
    """One cell as text, by the column's format when it has one, else by the value's type."""
    fmt = column.format if column else None
    decimals = column.decimals if column else None
    if value is None:
        return ""
    if fmt == "text":
        return str(value)
    if fmt == "date" and isinstance(value, date):
        return value.date().isoformat() if isinstance(value, datetime) else value.isoformat()
    if is_number(value):
        if fmt == "percent":
            return f"{float(value) * 100:,.{1 if decimals is None else decimals}f} %"
        if fmt == "currency":
            text = f"{float(value):,.{2 if decimals is None else decimals}f}"
            return f"{text} {column.currency}".rstrip() if column else text
        if decimals is not None:
            return f"{float(value):,.{decimals}f}"
        if isinstance(value, int):
            return f"{value:,}"
        return f"{float(value):,.2f}"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def right_aligned(column: Column | None, sample: Any) -> bool:
    """Numbers (by format or by value) are right-aligned."""
    if column is not None and column.format in ("number", "percent", "currency"):
        return True
    return is_number(sample)
