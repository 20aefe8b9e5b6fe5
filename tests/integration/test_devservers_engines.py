"""The embedded engines behave like real servers: persistence, crash recovery, leftovers, empty restart."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis

from reportsvc.dev.engine_base import PortInUseError, free_port
from reportsvc.dev.postgres import EmbeddedPostgres
from reportsvc.dev.valkey import EmbeddedValkey

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def pg_root() -> Iterator[Path]:
    """A folder outside pytest's own temp root: as root, the wheel opens its parents to the postgres system
    user, and any pytest session starting meanwhile (a nested run, a parallel one) closes /tmp/pytest-of-root
    to 0700 again, which would lock that user out mid-test."""
    root = Path(tempfile.mkdtemp(prefix="reportsvc-devservers-"))
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def pg_dir(pg_root: Path) -> Path:
    return pg_root / "pg"


@pytest.fixture(scope="module")
def pg(pg_dir: Path) -> Iterator[EmbeddedPostgres]:
    # One cluster for the module: initdb is the slow part (~1 s); start/stop cycles are fast.
    server = EmbeddedPostgres(pg_dir, free_port(), durable=False)
    with server:
        yield server
    # A test that killed it must not leave it half-alive either.
    server.kill()


def _rows(server: EmbeddedPostgres, db: str = "postgres") -> list[str]:
    with psycopg.connect(server.conninfo(db)) as conn:
        return [r[0] for r in conn.execute("SELECT name FROM things ORDER BY name").fetchall()]


def _insert(server: EmbeddedPostgres, name: str, db: str = "postgres") -> None:
    with psycopg.connect(server.conninfo(db)) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS things (name text PRIMARY KEY)")
        conn.execute("INSERT INTO things VALUES (%s)", (name,))


def test_postgres_data_survives_stop_and_start(pg: EmbeddedPostgres) -> None:
    pg.start()
    _insert(pg, "before-stop")
    pg.stop()
    assert not pg.is_running()
    pg.start()
    pg.start()  # idempotent
    assert pg.is_running()
    assert "before-stop" in _rows(pg)
    assert (pg.data_dir / "postgres.log").exists()


def test_postgres_recovers_after_kill(pg: EmbeddedPostgres) -> None:
    pg.start()
    _insert(pg, "before-kill")
    pg.kill()
    assert not pg.is_running()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(pg.conninfo(), connect_timeout=2)
    pg.start()  # stale postmaster.pid and socket lock are handled; crash recovery replays WAL
    assert "before-kill" in _rows(pg)


def test_postgres_ensure_and_drop_database(pg: EmbeddedPostgres) -> None:
    pg.start()
    assert pg.ensure_database("reportsvc_devtest") is True
    assert pg.ensure_database("reportsvc_devtest") is False
    _insert(pg, "x", db="reportsvc_devtest")
    assert pg.url("reportsvc_devtest") == f"postgresql+psycopg://postgres@127.0.0.1:{pg.port}/reportsvc_devtest"
    pg.drop_database("reportsvc_devtest")
    pg.drop_database("reportsvc_devtest")  # no error when absent
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(pg.conninfo("reportsvc_devtest"), connect_timeout=2)


def test_postgres_leftover_from_an_earlier_run_is_reused(pg: EmbeddedPostgres) -> None:
    pg.start()
    pid = pg._postmaster().pid  # type: ignore[union-attr]
    again = EmbeddedPostgres(pg.data_dir, pg.port, durable=False)
    assert again.is_running()
    again.start()
    assert again._postmaster().pid == pid  # type: ignore[union-attr]


def test_postgres_refuses_a_port_held_by_someone_else(pg_root: Path, pg: EmbeddedPostgres) -> None:
    pg.start()
    other = EmbeddedPostgres(pg_root / "other", pg.port, durable=False)
    with pytest.raises(PortInUseError):
        other.start()


@pytest.fixture
def valkey(tmp_path: Path) -> Iterator[EmbeddedValkey]:
    server = EmbeddedValkey(tmp_path / "valkey", free_port(), appendonly=True)
    with server:
        yield server


def _client(server: EmbeddedValkey) -> redis.Redis:
    return redis.Redis.from_url(server.url(), socket_timeout=5)


def test_valkey_set_get_and_url(valkey: EmbeddedValkey) -> None:
    assert valkey.url(3) == f"redis://127.0.0.1:{valkey.port}/3"
    client = _client(valkey)
    client.set("k", "v")
    assert client.get("k") == b"v"
    valkey.start()  # idempotent
    assert client.get("k") == b"v"


def test_valkey_aof_survives_stop_and_kill(valkey: EmbeddedValkey) -> None:
    _client(valkey).set("k", "stop")
    valkey.stop()
    assert not valkey.is_running()
    valkey.start()
    assert _client(valkey).get("k") == b"stop"

    _client(valkey).set("k2", "kill")
    valkey.kill()
    assert not valkey.is_running()
    valkey.start()
    assert _client(valkey).get("k2") == b"kill"


def test_valkey_restart_empty_loses_everything(valkey: EmbeddedValkey) -> None:
    _client(valkey).set("k", "v")
    valkey.restart_empty()
    assert valkey.is_running()
    assert _client(valkey).dbsize() == 0


def test_valkey_leftover_from_an_earlier_run_is_stopped(valkey: EmbeddedValkey) -> None:
    _client(valkey).set("k", "v")
    # A new handle on the same data dir (the earlier owner "died") finds the server via its pid file.
    again = EmbeddedValkey(valkey.data_dir, valkey.port, appendonly=True)
    assert again.is_running()
    try:
        again.start()
        assert again.is_running()
        assert _client(again).get("k") == b"v"
    finally:
        again.stop()
        with contextlib.suppress(Exception):
            valkey.stop()


def test_valkey_without_aof_keeps_nothing(tmp_path: Path) -> None:
    with EmbeddedValkey(tmp_path / "v", free_port(), appendonly=False) as server:
        _client(server).set("k", "v")
        server.stop()
        server.start()
        assert _client(server).get("k") is None
