"""The storage interface every backend implements, its errors, and how report files are keyed."""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from reportsvc import metrics

#: Bytes read from the backend per chunk of a streamed download: memory stays flat whatever the file size.
CHUNK_SIZE = 256 * 1024


class StorageError(ValueError):
    """A key that is unsafe or names no stored file."""


class StorageMissing(StorageError):
    """The key names no stored file (deleted, never written, or lost by the store)."""


class StorageUnavailable(RuntimeError):
    """The store could not be reached or failed; the operation may succeed later."""


@dataclass(frozen=True)
class StoredPdf:
    """A published file: its key, size and SHA-256 (what the READY transition records)."""

    key: str
    size: int
    sha256: str

    @classmethod
    def of(cls, key: str, data: bytes) -> StoredPdf:
        """The record of `data` stored under `key`."""
        return cls(key, len(data), hashlib.sha256(data).hexdigest())


@dataclass
class StoredObject:
    """An open stored file: its size and a chunk iterator that closes the source when exhausted or closed."""

    size: int
    chunks: Iterator[bytes]
    close: Callable[[], None]


class Storage(Protocol):
    """What callers may do with stored report files."""

    #: "local" or "s3", for metrics and logs.
    name: str

    def save(self, key: str, data: bytes) -> int:
        """Store bytes under key atomically (never half visible); return the size written."""
        ...

    def stream(self, key: str, chunk_size: int = CHUNK_SIZE) -> StoredObject:
        """Open the stored file for reading in chunks; StorageMissing when absent."""
        ...

    def delete(self, key: str) -> bool:
        """Remove the file; False when it was not there."""
        ...

    def exists(self, key: str) -> bool:
        """Whether a complete file is stored under key."""
        ...

    def presigned_url(self, key: str, seconds: int, filename: str) -> str | None:
        """A time-limited URL a browser can fetch the file from directly, when the backend has one."""
        ...

    def listing(self) -> Iterator[tuple[str, datetime]]:
        """Every stored key with its last-modified time (UTC), page by page."""
        ...

    def check(self) -> None:
        """Raise StorageUnavailable with one line naming the setting and the failure when unusable."""
        ...

    def local_path(self, key: str) -> Path | None:
        """A filesystem path, when the backend has one."""
        ...


def report_key(report_id: object, run_id: object) -> str:
    """The key of the PDF one run of a report writes: `<report_id>/<run_id>.pdf` (fenced per run)."""
    return f"{report_id}/{run_id}.pdf"


def report_of_key(key: str) -> uuid.UUID | None:
    """The report a key belongs to (`<report_id>/...` or the older `<report_id>.pdf`), None for others."""
    head = key.split("/", 1)[0].removesuffix(".pdf")
    try:
        return uuid.UUID(head)
    except ValueError:
        return None


@contextmanager
def timed(backend: str, operation: str) -> Iterator[None]:
    """Count the operation's latency, and its failure (anything but a missing file) as an error."""
    started = time.perf_counter()
    try:
        yield
    except StorageMissing:
        raise
    except Exception:
        metrics.inc("storage_errors_total", {"backend": backend, "operation": operation})
        raise
    finally:
        metrics.observe("storage_operation_seconds", time.perf_counter() - started,
                        {"backend": backend, "operation": operation})
