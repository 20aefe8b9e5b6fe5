"""A PDF that disappears between the download's checks and the open of the file (retention ran in
between) is a 410 (file_expired, or file_missing when no row says why), never a 500: the real routes, with
the file deleted at the last moment."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import text

ROUTES = {"api": "/reports/{rid}/download", "console": "/console/reports/{rid}/download"}


def _ready_report(app) -> tuple[str, Path]:  # type: ignore[no-untyped-def]
    """A READY report whose PDF is on disk, as a finished worker leaves it."""
    from reportsvc.extensions import db

    rid = str(uuid.uuid4())
    path = Path(app.extensions["reportsvc.settings"].storage_dir) / f"{rid}.pdf"
    path.write_bytes(b"%PDF-1.4 test")
    with app.app_context():
        db.session.execute(text("INSERT INTO report_requests (id, status, progress, file_path, finished_at) "
                                "VALUES (:id, 'READY', 100, :key, now())"), {"id": rid, "key": path.name})
        db.session.commit()
    return rid, path


def _retention_run(app, rid: str, path: Path) -> None:  # type: ignore[no-untyped-def]
    """What a purge in another process does, in its order: mark the row expired and commit, then delete."""
    from reportsvc.extensions import db

    with db.engine.begin() as conn:
        conn.execute(text("UPDATE report_requests SET file_expired_at = now() WHERE id = :id"), {"id": rid})
    path.unlink()


def _just_before_open(monkeypatch, action: Callable[[], None]) -> None:  # type: ignore[no-untyped-def]
    """Run action after the route's checks, right before the storage backend opens the file."""
    from reportsvc.state.storage import LocalStorage

    real_stream = LocalStorage.stream

    def racing_stream(self, key, *args, **kwargs):  # type: ignore[no-untyped-def]
        action()
        return real_stream(self, key, *args, **kwargs)

    monkeypatch.setattr(LocalStorage, "stream", racing_stream)


@pytest.mark.parametrize("where", ["api", "console"])
def test_file_expired_by_retention_during_download_is_410(app, client, monkeypatch, where) -> None:  # type: ignore[no-untyped-def]
    rid, path = _ready_report(app)
    _just_before_open(monkeypatch, lambda: _retention_run(app, rid, path))
    response = client.get(ROUTES[where].format(rid=rid))
    assert response.status_code == 410
    if where == "api":
        assert response.get_json()["error"]["code"] == "file_expired"
    else:
        assert "PDF deleted" in response.get_data(as_text=True)


@pytest.mark.parametrize("where", ["api", "console"])
def test_file_lost_during_download_is_410_file_missing(app, client, monkeypatch, where) -> None:  # type: ignore[no-untyped-def]
    rid, path = _ready_report(app)
    _just_before_open(monkeypatch, path.unlink)  # gone, and no row says why
    response = client.get(ROUTES[where].format(rid=rid))
    assert response.status_code == 410
    if where == "api":
        assert response.get_json()["error"]["code"] == "file_missing"
    else:
        assert "File missing" in response.get_data(as_text=True)


@pytest.mark.parametrize("where", ["api", "console"])
def test_file_deleted_once_open_still_downloads(app, client, where) -> None:  # type: ignore[no-untyped-def]
    rid, path = _ready_report(app)
    response = client.get(ROUTES[where].format(rid=rid), buffered=False)
    assert response.status_code == 200
    path.unlink()  # after the backend opened it: the open handle still reads the whole file
    assert b"".join(response.response) == b"%PDF-1.4 test"
    response.close()


@pytest.mark.parametrize("where", ["api", "console"])
def test_storage_path_that_is_a_directory_is_410_file_missing(app, client, where) -> None:  # type: ignore[no-untyped-def]
    rid, path = _ready_report(app)
    path.unlink()
    path.mkdir()  # something that exists but cannot be opened as a file
    try:
        assert client.get(ROUTES[where].format(rid=rid)).status_code == 410
    finally:
        path.rmdir()
