"""Serving a READY report's PDF from whichever storage backend holds it (the API and the console share this).

The file streams through the web process in CHUNK_SIZE pieces (memory stays flat whatever its size) with
Content-Length, the SHA-256 as ETag and `private, no-store`; or, with STORAGE_PRESIGNED_DOWNLOADS on and a
backend that can sign URLs, the caller (already authorised) is redirected to a short-lived URL instead.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Response, current_app, redirect, request

from reportsvc import metrics
from reportsvc.state.models import ReportRequest
from reportsvc.state.storage import StorageError, StorageMissing, storage_for

log = logging.getLogger("reportsvc.web")

#: Never cached by a browser or a shared proxy: a report is private and retention may delete it.
CACHE_CONTROL = "private, no-store"


class FileMissing(Exception):
    """The row is READY and names a file, but the store has no such object."""


def filename_of(report: ReportRequest) -> str:
    """The download's file name."""
    return f"report-{report.id}.pdf"


def pdf_response(report: ReportRequest) -> Any:
    """The PDF (200 streamed, 304, or 302 to a presigned URL); FileMissing or StorageUnavailable when it cannot."""
    settings = current_app.extensions["reportsvc.settings"]
    storage = storage_for(settings)
    key = str(report.file_path)
    if settings.storage.presigned_downloads:
        url = storage.presigned_url(key, settings.storage.download_link_seconds, filename_of(report))
        if url is not None:
            response = redirect(url, 302)
            response.headers["Cache-Control"] = CACHE_CONTROL
            return response
    if report.file_sha256 and report.file_sha256 in request.if_none_match:
        response = Response(status=304)
        response.set_etag(report.file_sha256)
        response.headers["Cache-Control"] = CACHE_CONTROL
        return response
    try:
        stored = storage.stream(key)
    except (StorageMissing, StorageError) as exc:
        log.warning("Job %s is READY but its file %s is missing from %s storage: %s", report.id, key,
                    storage.name, exc)
        metrics.inc("storage_files_missing_total", {"backend": storage.name})
        raise FileMissing(key) from None
    return _streamed(report, stored.size, stored.chunks, stored.close)


def _streamed(report: ReportRequest, size: int, chunks: Any, close: Any) -> Response:
    response = Response(chunks, mimetype="application/pdf", direct_passthrough=True)
    response.headers["Content-Length"] = str(size)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename_of(report)}"'
    response.headers["Cache-Control"] = CACHE_CONTROL
    if report.file_sha256:
        response.set_etag(report.file_sha256)
    response.call_on_close(close)
    return response
