"""WORKER_IDLE_POLL_MS: the longest an idle consumer sleeps between fetch scripts (real Redis)."""

from __future__ import annotations

import dataclasses
import time
import uuid
from typing import Any

from reportsvc.worker.broker import IDLE_POLL_MAX_MS, build_broker


def _broker(base_settings: Any, idle_ms: int) -> Any:
    return build_broker(dataclasses.replace(
        base_settings, hotpath=dataclasses.replace(base_settings.hotpath, worker_idle_poll_ms=idle_ms)))


def test_the_default_caps_an_idle_consumer_at_100_ms_whatever_the_worker_asks(base_settings: Any) -> None:
    broker = build_broker(base_settings)
    assert base_settings.hotpath.worker_idle_poll_ms == IDLE_POLL_MAX_MS == 100
    assert broker.consume("reports", prefetch=16, timeout=1000).timeout == 100
    assert broker.consume("reports", prefetch=16, timeout=40).timeout == 40  # a shorter ask is kept


def test_an_idle_consumer_sleeps_at_most_the_setting_between_fetches(base_settings: Any) -> None:
    broker = _broker(base_settings, 300)
    name = f"idle-{uuid.uuid4().hex[:8]}"
    broker.declare_queue(name)
    consumer = broker.consume(name, prefetch=16, timeout=5000)
    assert consumer.timeout == 300
    consumer.misses = 20  # long idle: Dramatiq's backoff is at its cap (jittered between half of it and all)
    started = time.monotonic()
    assert next(consumer) is None
    took = time.monotonic() - started
    # Half the cap at least; uncapped, the worker's 5 s would have slept 2.5 s at least.
    assert 0.15 <= took < 2.5, took
    consumer.close()
