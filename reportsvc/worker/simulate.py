"""Fault injection for tests and demos (only with REPORTSVC_FAULT_INJECTION=1)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

TICK_SECONDS = 0.25


class SimulatedFailure(RuntimeError):
    """An attempt failed on purpose because the report asked for it."""


@dataclass(frozen=True)
class Simulation:
    """What a report's params.simulate asks the worker to do."""

    fail_times: int = 0
    sleep_seconds: float = 0.0
    hang: bool = False
    pause_before_email: float = 0.0

    @classmethod
    def from_params(cls, params: dict[str, Any], *, enabled: bool) -> Simulation:
        """Read params['simulate'] when fault injection is on; a no-op simulation otherwise."""
        raw = params.get("simulate") if enabled else None
        if not isinstance(raw, dict):
            return cls()
        return cls(
            fail_times=int(raw.get("fail_times", 0)),
            sleep_seconds=float(raw.get("sleep_seconds", 0.0)),
            hang=bool(raw.get("hang", False)),
            pause_before_email=float(raw.get("pause_before_email", 0.0)),
        )

    def maybe_fail(self, attempt: int) -> None:
        """Fail the first fail_times attempts of the report's whole life."""
        if attempt <= self.fail_times:
            raise SimulatedFailure(f"simulated failure (attempt {attempt} of {self.fail_times} set to fail)")

    def spend(self, phase: int, phases: int, on_tick: Callable[[float], None]) -> None:
        """Spend this phase's share of sleep_seconds in ticks, reporting the fraction done."""
        share = self.sleep_seconds / phases
        if share <= 0:
            return
        deadline = time.monotonic() + share
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            time.sleep(min(TICK_SECONDS, left))
            on_tick(min(1.0, 1 - max(0.0, deadline - time.monotonic()) / share))

    def maybe_hang(self, check: Callable[[], None] = lambda: None) -> None:
        """Never return (in short sleeps, so the time limit can interrupt it); `check` may raise to stop it."""
        while self.hang:
            check()
            time.sleep(0.1)

    def maybe_pause_before_email(self) -> None:
        """Sleep pause_before_email seconds after READY committed, before the email (a window to kill in)."""
        if self.pause_before_email > 0:
            time.sleep(self.pause_before_email)
