"""The local-disk backend: files under one root directory (one host, or a disk every process shares)."""

from __future__ import annotations

import contextlib
import os
import re
import stat
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from reportsvc.state.storage.base import CHUNK_SIZE, StorageError, StorageMissing, StorageUnavailable, StoredObject

#: A key that cannot leave the root by its spelling: relative, '/'-separated names that start with a letter, digit
#: or '_' (so no '.', '..' or empty segment), no backslash or NUL. Report keys (`<uuid>/<uuid>.pdf`) are such.
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*(?:/[A-Za-z0-9_][A-Za-z0-9._-]*)*")


class LocalStorage:
    """Files under one root directory on local disk; writes are temp file + fsync + rename."""

    name = "local"

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()
        self._root_text = str(self.root)

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
        directory = self._plain_directory(key)
        if directory is None:
            path = self.resolve(key)
            path.parent.mkdir(parents=True, exist_ok=True)
            directory, final = str(path.parent), str(path)
        else:
            final = os.path.join(directory, key.rpartition("/")[2])
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".part", dir=directory)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, final)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        return len(data)

    def _plain_directory(self, key: str) -> str | None:
        """The directory `save` writes a plain key's file in, created as needed, or None to take `resolve`'s path.

        Why: `Path.resolve()` walks every component from / in Python (~60 us a file on the worker's hot path).
        A plain key cannot leave the root by its spelling; what resolve also catches is a symlink under the
        root, so each directory of the key must be a real directory (one lstat each), else resolve decides.
        The final name needs no check: the rename replaces whatever is there and follows no symlink."""
        if not _PLAIN_KEY.fullmatch(key):
            return None
        directory = self._root_text
        for part in key.split("/")[:-1]:
            directory = f"{directory}/{part}"
            try:
                os.mkdir(directory)
            except FileExistsError:
                if not stat.S_ISDIR(os.lstat(directory).st_mode):
                    return None
            except OSError:
                return None  # e.g. the root itself is missing: resolve's path creates it or says why
        return directory

    def open(self, key: str) -> BinaryIO:
        """Open for reading; StorageMissing when absent."""
        try:
            return self.resolve(key).open("rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise StorageMissing(f"no stored file for {key!r}") from None

    def stream(self, key: str, chunk_size: int = CHUNK_SIZE) -> StoredObject:
        """Open the file (a later delete cannot cut the read short) and read it in chunks."""
        fh = self.open(key)
        size = os.fstat(fh.fileno()).st_size

        def chunks() -> Iterator[bytes]:
            with fh:
                while block := fh.read(chunk_size):
                    yield block

        return StoredObject(size, chunks(), fh.close)

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

    def presigned_url(self, key: str, seconds: int, filename: str) -> str | None:
        """A disk has no URLs of its own: downloads stream through the web process."""
        return None

    def listing(self) -> Iterator[tuple[str, datetime]]:
        """Every final file under the root (temp files are the scheduler's clean_temp_files' job)."""
        if not self.root.is_dir():
            return
        for path in self.root.rglob("*.pdf"):
            with contextlib.suppress(FileNotFoundError):
                modified = datetime.fromtimestamp(path.stat().st_mtime, UTC)
                yield path.relative_to(self.root).as_posix(), modified

    def check(self) -> None:
        """The root must be a writable directory (created when missing)."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageUnavailable(f"STORAGE_DIR={self.root}: cannot create it ({exc.strerror})") from None
        if not os.access(self.root, os.W_OK | os.X_OK):
            raise StorageUnavailable(f"STORAGE_DIR={self.root}: not writable by this process")

    def local_path(self, key: str) -> Path | None:
        """Local files live at a path under the root."""
        return self.resolve(key)
