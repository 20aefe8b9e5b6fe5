"""DATABASE_URL in libpq's multi-host form becomes the URL SQLAlchemy and psycopg take, hosts in order."""

from __future__ import annotations

from sqlalchemy.engine import make_url

from reportsvc.config import load_settings


def test_libpq_multi_host_url_lists_every_host_in_order_and_keeps_the_options() -> None:
    url = load_settings({"DATABASE_URL": "postgresql://app:pw@db1:5432,db2:5433/reportsvc"
                                         "?target_session_attrs=read-write"}).database_url
    parsed = make_url(url)
    assert parsed.query["host"] == ("db1:5432", "db2:5433")
    assert parsed.query["target_session_attrs"] == "read-write"
    assert (parsed.username, parsed.password, parsed.database) == ("app", "pw", "reportsvc")


def test_single_host_url_is_unchanged() -> None:
    assert load_settings({"DATABASE_URL": "postgresql://app@db1:5432/reportsvc"}).database_url == (
        "postgresql+psycopg://app@db1:5432/reportsvc")
