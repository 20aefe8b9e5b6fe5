"""Fixtures for fault tests: short lock/sweep timings and subprocess workers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.chaos.harness import Proc, SweeperLoop, scheduler_proc, worker_proc
from tests.smtp import Inbox, smtp_server

CHAOS = dict(
    report_lock_seconds=3,
    heartbeat_interval_seconds=0.5,
    stall_sweep_interval_seconds=1.0,
    reconcile_interval_seconds=1.0,
    reconcile_grace_seconds=2.0,
    max_stalled_count=2,
    retry_delays_ms=(500, 1000, 2000),
)


@pytest.fixture
def chaos_smtp() -> Iterator[tuple[Any, Inbox]]:
    """The chaos environment's SMTP server: email is on in every fault test."""
    with smtp_server() as server:
        yield server


@pytest.fixture
def chaos_inbox(chaos_smtp) -> Inbox:  # type: ignore[no-untyped-def]
    """What the chaos SMTP server received."""
    return chaos_smtp[1]


@pytest.fixture
def chaos_settings(settings, chaos_smtp):  # type: ignore[no-untyped-def]
    """Settings with lock 3 s, a 1 s sweep and email to the chaos SMTP server, applied to this process too."""
    return settings(**CHAOS, email_host="127.0.0.1", email_port=chaos_smtp[0].port)


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[list[Proc]]:
    """Every subprocess a test starts; all killed at teardown."""
    started: list[Proc] = []
    yield started
    for proc in started:
        proc.kill()


@pytest.fixture
def start_worker(chaos_settings, procs, tmp_path: Path) -> Callable[..., Proc]:  # type: ignore[no-untyped-def]
    """Start a real `dramatiq` worker subprocess."""
    def start(threads: int = 4) -> Proc:
        proc = worker_proc(chaos_settings, tmp_path / f"worker-{len(procs)}.log", threads).start()
        procs.append(proc)
        return proc

    return start


@pytest.fixture
def start_scheduler(chaos_settings, procs, tmp_path: Path) -> Callable[[], Proc]:  # type: ignore[no-untyped-def]
    """Start a real `flask scheduler` subprocess."""
    def start() -> Proc:
        proc = scheduler_proc(chaos_settings, tmp_path / f"scheduler-{len(procs)}.log").start()
        procs.append(proc)
        return proc

    return start


@pytest.fixture
def sweeper_loop(app, chaos_settings) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    """The recovery jobs running in this process every 0.5 s."""
    loop = SweeperLoop(app, chaos_settings)
    loop.start()
    yield loop
    loop.stop()
