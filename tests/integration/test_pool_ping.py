"""DB_PING_IDLE_SECONDS: a pooled connection is pinged at checkout only after it sat idle, and a dead idle one
is replaced before the caller's statement runs."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from reportsvc.config import load_settings
from reportsvc.state.pool import ping_after_idle

IDLE = 0.3


@pytest.fixture
def engine(base_settings) -> Iterator[tuple[Engine, list[int]]]:  # type: ignore[no-untyped-def]
    """A one-connection pool with the idle ping, counting the pings it sends."""
    found = create_engine(base_settings.database_url, pool_size=1, max_overflow=0)
    ping_after_idle(found, IDLE)
    pings: list[int] = []
    real = found.dialect.do_ping

    def counted(dbapi_connection: Any) -> bool:
        pings.append(1)
        return bool(real(dbapi_connection))

    found.dialect.do_ping = counted  # type: ignore[method-assign]
    yield found, pings
    found.dispose()


def backend_pid(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def kill_backend(base_settings, pid: int) -> None:  # type: ignore[no-untyped-def]
    url = base_settings.database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(%s)", (pid,))


def test_connection_returned_moments_ago_is_reused_without_a_ping(engine) -> None:  # type: ignore[no-untyped-def]
    found, pings = engine
    first = backend_pid(found)
    assert backend_pid(found) == first
    assert backend_pid(found) == first
    assert pings == []


def test_idle_connection_is_pinged_and_a_dead_one_replaced_before_the_statement(engine, base_settings) -> None:  # type: ignore[no-untyped-def]
    found, pings = engine
    first = backend_pid(found)
    kill_backend(base_settings, first)
    time.sleep(IDLE + 0.1)
    second = backend_pid(found)  # no error reaches the caller: the ping found the connection dead
    assert second != first
    assert pings == [1]


def test_zero_means_sqlalchemy_pre_ping_on_every_checkout() -> None:
    options = load_settings({"DB_PING_IDLE_SECONDS": "0"}).sqlalchemy_options()
    assert options["pool_pre_ping"] is True
    assert load_settings({}).sqlalchemy_options()["pool_pre_ping"] is False


def test_negative_idle_seconds_is_a_configuration_error() -> None:
    from reportsvc.config import ConfigError

    with pytest.raises(ConfigError, match="DB_PING_IDLE_SECONDS"):
        load_settings({"DB_PING_IDLE_SECONDS": "-1"})
