"""Report file storage: one interface, one module per backend (local disk, S3-compatible object store).

Callers name files by a relative key (`report_key(report_id, run_id)`); `get_storage()` returns the
backend the settings choose, and no caller outside this package knows which one it talks to.
"""

from __future__ import annotations

from reportsvc.state.storage.base import (
    CHUNK_SIZE,
    Storage,
    StorageError,
    StorageMissing,
    StorageUnavailable,
    StoredObject,
    StoredPdf,
    report_key,
    report_of_key,
)
from reportsvc.state.storage.choose import check_storage, get_storage, storage_for
from reportsvc.state.storage.local import LocalStorage

__all__ = [
    "CHUNK_SIZE", "LocalStorage", "Storage", "StorageError", "StorageMissing", "StorageUnavailable", "StoredObject",
    "StoredPdf", "check_storage", "get_storage", "report_key", "report_of_key", "storage_for",
]
