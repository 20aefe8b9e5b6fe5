"""Report file storage: one small interface with a local-disk backend.

Callers name files by a relative key (e.g. "3f2a.../report.pdf"); the backend
decides where bytes live. Writes are atomic (temp file + fsync + rename), so a
reader never sees half a file, and keys can never escape the storage root.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Protocol


class StorageError(ValueError):
    """A key that is unsafe or names no stored file."""


class Storage(Protocol):
    """What callers may do with stored report files."""

    def save(self, key: str, data: bytes) -> int:
        """Store bytes under key atomically; return the size written."""
        ...

    def open(self, key: str) -> BinaryIO:
        """Open the stored file for reading."""
        ...

    def delete(self, key: str) -> bool:
        """Remove the file; False when it was not there."""
        ...

    def exists(self, key: str) -> bool:
        """Whether a complete file is stored under key."""
        ...

    def local_path(self, key: str) -> Path | None:
        """A filesystem path for efficient serving, when the backend has one."""
        ...


class LocalStorage:
    """Files under one root directory on local disk."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()

    def resolve(self, key: str) -> Path:
        """The absolute path for key; refuses anything outside the root."""
        if not key or key.startswith(("/", "\\")) or "\x00" in key:
            raise StorageError(f"unsafe storage key: {key!r}")
        path = (self.root / key).resolve()
        if path != self.root and self.root not in path.parents:
            raise StorageError(f"storage key escapes the storage root: {key!r}")
        return path

    def save(self, key: str, data: bytes) -> int:
        """Write to a temp file in the same directory, fsync, then rename over the final name."""
        path = self.resolve(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".part", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        return len(data)

    def open(self, key: str) -> BinaryIO:
        """Open for reading; StorageError when missing."""
        path = self.resolve(key)
        try:
            return path.open("rb")
        except FileNotFoundError:
            raise StorageError(f"no stored file for {key!r}") from None

    def delete(self, key: str) -> bool:
        """Remove the file if present."""
        try:
            self.resolve(key).unlink()
            return True
        except FileNotFoundError:
            return False

    def exists(self, key: str) -> bool:
        """Whether the final (renamed) file exists."""
        return self.resolve(key).is_file()

    def local_path(self, key: str) -> Path | None:
        """Local files can be streamed straight from disk."""
        return self.resolve(key)


def report_key(report_id: object) -> str:
    """The storage key of a report's PDF."""
    return f"{report_id}.pdf"
