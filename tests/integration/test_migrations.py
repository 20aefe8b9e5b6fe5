"""Migrations: one head, and models agree with what the migrations build."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

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
