"""Migrations: one head, and models agree with what the migrations build."""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import text

from reportsvc.extensions import db

ROOT = Path(__file__).resolve().parents[2]


def test_single_head():
    config = Config()
    config.set_main_option("script_location", str(ROOT / "migrations"))
    heads = ScriptDirectory.from_config(config).get_heads()
    assert len(heads) == 1, heads


def test_models_match_migrations(app):
    with app.app_context(), db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
    # Expression indexes with operator classes cannot be compared by Alembic; everything else must match.
    assert diff == [], diff


def test_seed_monitoring_query_lists_the_newest_reports(app, client):
    from sqlalchemy import text

    ids = [client.post("/reports", json={"title": f"r{i}"}).get_json()["id"] for i in range(6)]
    with app.app_context():
        rows = db.session.execute(text(
            "SELECT id, status, progress, extract(epoch from (NOW() - updated_at)) AS seconds_ago "
            "FROM report_requests ORDER BY created_at DESC LIMIT 5;"
        )).all()
        db.session.rollback()
    assert [str(r.id) for r in rows] == ids[::-1][:5]
    assert all(r.status == "PENDING" and r.progress == 0 and 0 <= r.seconds_ago < 60 for r in rows), rows


# --------------------------------------------------------------------------- upgrade with data, downgrade, up


@pytest.fixture
def walk_database(engines):  # type: ignore[no-untyped-def]
    """An empty database of its own on the test server (dropped afterwards)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    base = make_url(engines.database_url)
    name = f"reportsvc_migwalk_{os.getpid()}"
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield base.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _migrator(url: str):  # type: ignore[no-untyped-def]
    """A bare Flask app whose Flask-Migrate points at `url` (migrations/env.py reads current_app)."""
    from flask import Flask
    from flask_migrate import Migrate
    from flask_sqlalchemy import SQLAlchemy

    bare = Flask("migration-walk")
    bare.config["SQLALCHEMY_DATABASE_URI"] = url
    bare_db = SQLAlchemy()
    bare_db.init_app(bare)
    Migrate(bare, bare_db, directory=str(ROOT / "migrations"))
    return bare, bare_db


def _revisions_base_to_head() -> list[str]:
    config = Config()
    config.set_main_option("script_location", str(ROOT / "migrations"))
    return [r.revision for r in reversed(list(ScriptDirectory.from_config(config).walk_revisions()))]


# A CHECK's allowed values as written (`status IN ('A', ...)`) or as PostgreSQL reflects it back
# (`(status)::text = ANY ((ARRAY['A'::character varying, ...])::text[])`): column name and first value.
_IN_LIST = re.compile(r"\(?(\w+)\)?(?:::[\w ]+)?\s+(?:IN\s*\(|=\s*ANY\s*\(\(?ARRAY\[)\s*'([^']*)'", re.I)


def _insert_a_row_everywhere(conn, serial: int) -> None:  # type: ignore[no-untyped-def]
    """One row in every table of the schema as it stands: each NOT NULL column without a default gets a value of
    its type (a CHECK's first allowed value, a referenced row's key), so the walk needs no per-revision list."""
    import datetime as dt

    from sqlalchemy import MetaData, insert, select
    from sqlalchemy import types as t

    meta = MetaData()
    meta.reflect(conn)
    inspector = sa_inspect(conn)
    for table in meta.sorted_tables:
        if table.name == "alembic_version":
            continue
        allowed = {m.group(1): m.group(2) for c in inspector.get_check_constraints(table.name)
                   for m in _IN_LIST.finditer(c["sqltext"])}
        row: dict[str, object] = {}
        for col in table.columns:
            if col.nullable or col.server_default is not None or col.identity is not None or (
                    col.primary_key and col.autoincrement is True and isinstance(col.type, t.Integer)):
                continue
            if col.foreign_keys:
                target = next(iter(col.foreign_keys)).column
                row[col.name] = conn.execute(select(target).limit(1)).scalar_one()
            elif col.name in allowed:
                row[col.name] = allowed[col.name]
            elif isinstance(col.type, t.Boolean):
                row[col.name] = False
            elif isinstance(col.type, t.Integer | t.Numeric | t.Float):
                row[col.name] = serial
            elif isinstance(col.type, t.DateTime):
                row[col.name] = dt.datetime.now(dt.UTC)
            elif isinstance(col.type, t.Uuid) or type(col.type).__name__ == "UUID":
                row[col.name] = uuid.uuid4()
            elif isinstance(col.type, t.JSON):
                row[col.name] = {}
            elif isinstance(col.type, t.String):
                length = getattr(col.type, "length", None) or 64
                row[col.name] = f"r{serial}-{uuid.uuid4().hex}"[:length]
            else:
                raise AssertionError(f"the migration walk needs a value for {table.name}.{col.name} ({col.type})")
        conn.execute(insert(table).values(**row))


def _counts(conn) -> dict[str, int]:  # type: ignore[no-untyped-def]
    from sqlalchemy import text

    names = [n for n in sa_inspect(conn).get_table_names() if n != "alembic_version"]
    return {n: conn.execute(text(f'SELECT count(*) FROM "{n}"')).scalar_one() for n in names}


def test_upgrade_keeps_rows_written_at_every_earlier_revision_then_down_one_and_up(walk_database):
    from flask_migrate import downgrade, upgrade

    bare, bare_db = _migrator(walk_database)
    revisions = _revisions_base_to_head()
    expected: dict[str, int] = {}
    with bare.app_context():
        for serial, revision in enumerate(revisions, start=1):
            upgrade(directory=str(ROOT / "migrations"), revision=revision)
            with bare_db.engine.begin() as conn:
                now = _counts(conn)
                kept = {n: now[n] for n in expected if n in now}
                assert kept == {n: expected[n] for n in kept}, revision  # nothing written earlier was lost
                _insert_a_row_everywhere(conn, serial)
                expected = _counts(conn)
        assert expected and all(n >= 1 for n in expected.values())
        assert expected["report_requests"] == len(revisions)  # a row from every revision survived to head
        # one step down and up again, with the data in place
        downgrade(directory=str(ROOT / "migrations"), revision="-1")
        with bare_db.engine.connect() as conn:
            version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
            below = {n: c for n, c in _counts(conn).items()}
        assert version == revisions[-2]
        assert below["report_requests"] == len(revisions)
        upgrade(directory=str(ROOT / "migrations"))
        with bare_db.engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == revisions[-1]
            after = _counts(conn)
        assert {n: after[n] for n in below} == below
        bare_db.engine.dispose()


def _index_build_waiting(conn) -> bool:  # type: ignore[no-untyped-def]
    """Whether a backend runs an index DDL statement that waits for a lock (a transaction of its own: the
    statistics views keep one snapshot per transaction)."""
    waiting = conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                                " AND query ILIKE '%INDEX%'")).scalar_one()
    conn.rollback()
    return bool(waiting)


def test_the_lean_indexes_upgrade_lets_reports_be_written_while_it_builds(walk_database):
    """i16_lean_indexes rebuilds two report_requests indexes CONCURRENTLY: held up by a long transaction, it
    blocks no other writer (a plain DROP/CREATE INDEX would queue an ACCESS EXCLUSIVE lock ahead of them)."""
    import threading

    from flask_migrate import upgrade
    from sqlalchemy import create_engine

    from tests.conftest import wait_for

    bare, bare_db = _migrator(walk_database)
    with bare.app_context():
        upgrade(directory=str(ROOT / "migrations"), revision="i17_bulk_lane")
    engine = create_engine(walk_database)
    insert = text("INSERT INTO report_requests (id, status, progress, report_type, params)"
                  " VALUES (:i, 'PENDING', 0, 'operations', '{}')")
    failed: list[BaseException] = []

    def migrate() -> None:
        try:
            with bare.app_context():
                upgrade(directory=str(ROOT / "migrations"), revision="i16_lean_indexes")
        except BaseException as exc:  # noqa: BLE001 (reported by the test)
            failed.append(exc)

    with engine.connect() as long_running, engine.connect() as writer:
        long_running.execute(insert, {"i": uuid.uuid4()})  # a transaction left open: the build waits for it
        migration = threading.Thread(target=migrate, daemon=True)
        migration.start()
        try:
            wait_for(lambda: _index_build_waiting(writer), timeout=30)
            writer.execute(text("SET lock_timeout = '3s'"))
            writer.execute(insert, {"i": uuid.uuid4()})  # a report created meanwhile: not queued behind the build
            writer.commit()
        finally:
            long_running.commit()
            migration.join(60)
    assert not migration.is_alive() and not failed, failed
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == "i16_lean_indexes"
        indexes = dict(conn.execute(text("SELECT indexname, indexdef FROM pg_indexes WHERE tablename IN"
                                         " ('report_requests', 'report_events')")).all())
        valid = conn.execute(text("SELECT bool_and(indisvalid) FROM pg_index")).scalar_one()
    assert "WHERE (finished_at IS NOT NULL)" in indexes["ix_report_requests_finished_at"]
    assert "WHERE (schedule_id IS NOT NULL)" in indexes["ix_report_requests_schedule_created"]
    assert "ix_report_events_kind_created" not in indexes and not any(n.endswith("_i16") for n in indexes)
    assert valid
    engine.dispose()
    with bare.app_context():
        bare_db.engine.dispose()
