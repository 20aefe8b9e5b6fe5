"""LocalStorage.save: plain keys skip Path.resolve, and no key or symlink gets a file written outside the root."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from reportsvc.state.storage import LocalStorage, report_key
from reportsvc.state.storage.base import StorageError

HOSTILE_KEYS = ["../outside.pdf", "a/../../outside.pdf", "/etc/outside.pdf", "\\outside.pdf", "a/\x00.pdf", "",
                "..", "a/b/../../../outside.pdf", "./../outside.pdf"]


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    """A storage root one level under the test's directory, so escaping it lands in tmp_path."""
    store = LocalStorage(tmp_path / "root")
    store.check()
    return store


def _files_outside(tmp_path: Path) -> list[Path]:
    return [p for p in tmp_path.rglob("*") if p.is_file() and "root" not in p.relative_to(tmp_path).parts[:1]]


def test_a_report_key_is_written_under_its_directory_and_read_back(storage: LocalStorage) -> None:
    key = report_key(uuid.uuid4(), uuid.uuid4())
    assert storage.save(key, b"%PDF-1 one") == 10
    assert storage.save(key, b"%PDF-1 two") == 10  # a second run's write replaces the file whole
    with storage.open(key) as fh:
        assert fh.read() == b"%PDF-1 two"
    assert storage.local_path(key) == storage.root / key
    assert os.listdir(storage.root / key.split("/")[0]) == [key.split("/")[1]]  # no temp file left


@pytest.mark.parametrize("key", HOSTILE_KEYS)
def test_a_hostile_key_is_refused_and_writes_nothing(storage: LocalStorage, tmp_path: Path, key: str) -> None:
    with pytest.raises(StorageError):
        storage.save(key, b"x")
    assert _files_outside(tmp_path) == []


def test_a_symlinked_directory_leading_out_of_the_root_is_refused(storage: LocalStorage, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (storage.root / "link").symlink_to(outside)
    with pytest.raises(StorageError, match="escapes"):
        storage.save("link/file.pdf", b"x")
    assert list(outside.iterdir()) == []


def test_a_symlinked_directory_inside_the_root_is_followed_as_before(storage: LocalStorage) -> None:
    (storage.root / "real").mkdir()
    (storage.root / "alias").symlink_to(storage.root / "real")
    storage.save("alias/file.pdf", b"x")
    assert (storage.root / "real" / "file.pdf").read_bytes() == b"x"


def test_keys_that_are_not_plain_names_still_resolve_inside_the_root(storage: LocalStorage) -> None:
    storage.save("a/./b/../c.pdf", b"x")
    assert (storage.root / "a" / "c.pdf").read_bytes() == b"x"


def test_a_missing_root_is_created_by_the_first_save(tmp_path: Path) -> None:
    store = LocalStorage(tmp_path / "not" / "yet")
    store.save("d/file.pdf", b"x")
    assert (tmp_path / "not" / "yet" / "d" / "file.pdf").read_bytes() == b"x"
