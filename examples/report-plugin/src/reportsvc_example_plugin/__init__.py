"""An example report type shipped in its own package: how many reports reached each status in a window.

The three parts of a report type: a pydantic params model (its JSON Schema becomes the console's form and
the entry in GET /report-types), `gather(source, params)` that reads through the source reportsvc hands
it (read-only SQL), and a pure `render(data) -> bytes` that draws the PDF and can be tested without any
database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from io import BytesIO
from typing import Any

from pydantic import BaseModel, Field
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

from reportsvc.reports import ReportType

VERSION = "1.0.0"


class StatusCountsParams(BaseModel):
    """What a user picks: the first day of the window and how many days it spans."""

    since: date = Field(default_factory=lambda: date.today() - timedelta(days=7), title="Since",
                        description="First day counted")
    days: int = Field(7, ge=1, le=366, title="Days", description="How many days from `since`")


@dataclass(frozen=True)
class StatusCounts:
    """What render draws: the window and (status, count) pairs."""

    since: date
    until: date
    counts: list[tuple[str, int]]


SQL = ("SELECT status, count(*) FROM report_requests "
       "WHERE created_at >= :since AND created_at < :until GROUP BY status ORDER BY status")


def gather(source: Any, params: StatusCountsParams) -> StatusCounts:
    """Count reports per status in the window through the read-only source (parameters bound)."""
    until = params.since + timedelta(days=params.days)
    rows = source.query(SQL, {"since": params.since, "until": until})
    return StatusCounts(since=params.since, until=until, counts=[(str(s), int(n)) for s, n in rows])


def render(data: StatusCounts) -> bytes:
    """One page: a title, the window and a line per status (pure: data in, PDF bytes out)."""
    out = BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4, invariant=True)
    pdf.setTitle("Reports per status")
    width, height = A4
    pdf.setFont("Helvetica-Bold", 18)
    pdf.drawString(50, height - 70, "Reports per status")
    pdf.setFont("Helvetica", 10)
    pdf.drawString(50, height - 90, f"Created from {data.since.isoformat()} to {data.until.isoformat()} (exclusive)")
    y = height - 130
    for status, count in data.counts or [("(no reports)", 0)]:
        pdf.drawString(50, y, status)
        pdf.drawRightString(250, y, f"{count:,}")
        y -= 16
    pdf.drawString(50, y - 10, f"Total: {sum(n for _, n in data.counts):,}")
    pdf.showPage()
    pdf.save()
    return out.getvalue()


STATUS_COUNTS = ReportType(
    name="status_counts",
    description="Example plugin: how many reports reached each status in a window of days.",
    params_model=StatusCountsParams,
    gather=gather,
    render=render,
    version=VERSION,
)
