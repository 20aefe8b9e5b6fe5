"""A one-page text report type for bench/cost.py: what both the product and the bare baseline render.

Registered by hand (not an entry point) in the processes bench/cost.py starts, so the product's catalogue
is untouched. Gather reads nothing; render draws a title and a dozen lines on one A4 page (about 0.5 ms),
so the figures measure the framework around a report, not ReportLab.
"""

from __future__ import annotations

import io
from typing import Any

from pydantic import BaseModel, ConfigDict

from reportsvc.reports.registry import ReportType

NAME = "bench_page"


class PageParams(BaseModel):
    """No parameters."""

    model_config = ConfigDict(extra="forbid")


def gather(source: Any, params: PageParams, title: str | None = None) -> dict[str, Any]:
    """The page's content: the title only (no query)."""
    return {"title": title or "Bench page"}


def render(data: dict[str, Any]) -> bytes:
    """One A4 page of text."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    page = canvas.Canvas(out, pagesize=A4, pageCompression=0)
    page.setFont("Helvetica-Bold", 16)
    page.drawString(72, 770, str(data["title"]))
    page.setFont("Helvetica", 10)
    for line in range(12):
        page.drawString(72, 740 - 14 * line, f"Line {line + 1}: the same page for the product and the baseline.")
    page.showPage()
    page.save()
    return out.getvalue()


PAGE = ReportType(name=NAME, description="One page of text (benchmarks)", params_model=PageParams,
                  gather=gather, render=render)


def register() -> None:
    """Add the type to this process's registry."""
    from reportsvc.reports import registry

    registry.register(PAGE)
