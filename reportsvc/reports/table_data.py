"""What the table report renders, and `gather`: a dataset's query run through the caller's source."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from reportsvc.reports.datasets import Chart, Column, Dataset
from reportsvc.reports.table_format import format_value


@dataclass
class TableData:
    """A table report's content; `rows` may be a stream read once (it says `.truncated` when cut)."""

    title: str
    columns: list[str]
    rows: Iterable[Sequence[Any]]
    description: str = ""
    params: list[tuple[str, str]] = field(default_factory=list)
    generated_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    column_specs: dict[str, Column] = field(default_factory=dict)
    totals: tuple[str, ...] = ()
    chart: Chart | None = None
    max_rows: int | None = None
    #: progress(percent, message), called as rows are fetched and pages laid out (the worker's writer).
    progress: Callable[[int, str], None] | None = None

    @property
    def truncated(self) -> bool:
        """True when the source's row cap cut the rows (known once they have been read)."""
        return bool(getattr(self.rows, "truncated", False))


def gather(dataset: Dataset, source: Any, params: BaseModel, *, title: str | None = None) -> TableData:
    """Run the dataset's SQL with `params` bound (never formatted in) through `source.query`; rows stream."""
    values = params.model_dump()
    result = source.query(dataset.sql, values)
    labels = {p.name: p.label for p in dataset.params}
    return TableData(
        title=title or dataset.title,
        description=dataset.description,
        columns=list(result.columns),
        rows=result,
        params=[(labels.get(k, k), format_value(v, None)) for k, v in values.items()],
        column_specs=dict(dataset.columns),
        totals=dataset.totals,
        chart=dataset.chart,
        max_rows=getattr(result, "max_rows", None),
        progress=getattr(source, "progress", None),
    )
