"""The datasets file as the processes see it: reloaded when it changes, the last good version kept.

Every lookup stats the file (one syscall); a changed file is parsed again. A file that fails to parse is
logged with its line and reason and refused: the datasets of the last good version stay in use, and
`last_error` says what is wrong (GET /report-types keeps working). A missing file means no datasets.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from reportsvc.reports.datasets import Dataset, DatasetFileError, parse_datasets

log = logging.getLogger("reportsvc.reports")


class DatasetCatalog:
    """The datasets of one file, kept fresh by its modification time and size."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.last_error: DatasetFileError | None = None
        self._datasets: dict[str, Dataset] = {}
        self._stamp: tuple[int, int] | None = None
        self._lock = threading.Lock()

    def datasets(self) -> dict[str, Dataset]:
        """The current datasets by name (re-read when the file changed since the last look)."""
        try:
            stat = self.path.stat()
            stamp: tuple[int, int] | None = (stat.st_mtime_ns, stat.st_size)
        except FileNotFoundError:
            stamp = None
        with self._lock:
            if stamp != self._stamp:
                self._reload(stamp)
            return self._datasets

    def get(self, name: str) -> Dataset | None:
        """One dataset by name, or None."""
        return self.datasets().get(name)

    def _reload(self, stamp: tuple[int, int] | None) -> None:
        self._stamp = stamp
        if stamp is None:
            if self._datasets:
                log.warning("datasets file %s is gone; no datasets", self.path)
            self._datasets, self.last_error = {}, None
            return
        try:
            parsed = parse_datasets(self.path.read_text(encoding="utf-8"))
        except (DatasetFileError, UnicodeDecodeError, OSError) as exc:
            error = exc if isinstance(exc, DatasetFileError) else DatasetFileError(str(exc), None)
            self.last_error = error
            log.error("datasets file %s refused, keeping the last good one (%d datasets): %s",
                      self.path, len(self._datasets), error)
            return
        self._datasets, self.last_error = parsed, None
        log.info("datasets file %s loaded: %s", self.path, ", ".join(parsed) or "no datasets")


_catalogs: dict[Path, DatasetCatalog] = {}
_catalogs_lock = threading.Lock()


def catalog_for(path: Path) -> DatasetCatalog:
    """The process's catalog of `path` (one per file, so reloads are shared by every thread)."""
    with _catalogs_lock:
        found = _catalogs.get(path)
        if found is None:
            found = _catalogs[path] = DatasetCatalog(path)
        return found
