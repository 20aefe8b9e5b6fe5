"""libpq multi-host DATABASE_URL with target_session_attrs=read-write: the first host is down, the service
connects to the next one, in this process and in a real worker process."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from reportsvc.config import load_settings
from reportsvc.dev.engine_base import free_port
from tests.chaos.harness import worker_proc
from tests.conftest import wait_status


def _first_host_down_url(database_url: str) -> str:
    """The test database's URL in libpq's multi-host form, led by a port nobody listens on."""
    url = make_url(database_url)
    auth = url.username + (f":{url.password}" if url.password else "")
    return (f"postgresql://{auth}@127.0.0.1:{free_port()},{url.host}:{url.port}/{url.database}"
            "?target_session_attrs=read-write")


def test_connects_through_a_url_whose_first_host_is_down(engines):  # type: ignore[no-untyped-def]
    settings = load_settings({"DATABASE_URL": _first_host_down_url(engines.database_url)})
    engine = create_engine(settings.database_url, **settings.sqlalchemy_options())
    try:
        with engine.connect() as conn:
            port, in_recovery = conn.execute(text("SELECT inet_server_port(), pg_is_in_recovery()")).one()
    finally:
        engine.dispose()
    assert port == make_url(engines.database_url).port and in_recovery is False


def test_a_worker_on_a_multi_host_url_with_the_first_host_down_finishes_reports(app, client, base_settings,
                                                                                 engines, tmp_path):
    # The worker gets libpq's form (`h1:p1,h2:p2`) in DATABASE_URL and reads it as any deployment would.
    libpq_form = _first_host_down_url(engines.database_url)
    worker = worker_proc(replace(base_settings, database_url=libpq_form), tmp_path / "worker.log").start()
    try:
        rid = client.post("/reports").get_json()["id"]
        final = wait_status(client, rid, {"READY", "FAILED"}, timeout=60)
        assert final["status"] == "READY", worker.log_text()[-2000:]
    finally:
        worker.kill()
