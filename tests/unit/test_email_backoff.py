"""The README's promise "a half-hour SMTP outage still delivers", recomputed with Dramatiq's own backoff."""

from __future__ import annotations

from collections.abc import Callable
from unittest import mock

import dramatiq.common
from dramatiq.common import compute_backoff
from dramatiq.middleware.retries import DEFAULT_MAX_BACKOFF

from reportsvc.config import load_settings

HALF_HOUR_MS = 30 * 60 * 1000


def _backoff(retries: int, factor: int, max_backoff: int, jitter: Callable[[float, float], float]) -> int:
    """The wait Dramatiq's Retries middleware computes before the retry that follows `retries` retries."""
    with mock.patch.object(dramatiq.common, "uniform", jitter):
        return compute_backoff(retries, factor=factor, max_backoff=min(max_backoff, DEFAULT_MAX_BACKOFF))[1]


def _shortest_wait(retries: int, factor: int, max_backoff: int) -> int:
    """The shortest wait any jitter draw gives.

    compute_backoff draws uniform(1, 2); a product past max_backoff is replaced by a second draw,
    max_backoff * uniform(0.5, 1). So the lowest first draw is not always the shortest wait: a high one
    that overshoots can land at max_backoff / 2. Both extremes of the first draw, the second at its lowest.
    """
    def low(a: float, b: float) -> float:
        return a

    def high_then_low(a: float, b: float) -> float:
        return b if (a, b) == (1, 2) else a

    return min(_backoff(retries, factor, max_backoff, low), _backoff(retries, factor, max_backoff, high_then_low))


def _email_actor_options() -> tuple[int, int]:
    from reportsvc.worker.notify import send_report_email

    return send_report_email.options["min_backoff"], send_report_email.options["max_backoff"]


def test_default_email_retries_span_at_least_half_an_hour():
    retries = load_settings({}).email_max_retries  # the shipped default (EMAIL_MAX_RETRIES unset)
    factor, max_backoff = _email_actor_options()
    # Retries runs retry n (n = 0 .. max_retries - 1) after compute_backoff(n); the last try starts after all of them.
    shortest = sum(_shortest_wait(n, factor, max_backoff) for n in range(retries))
    assert shortest >= HALF_HOUR_MS, f"the email retry window can be as short as {shortest / 60_000:.1f} min"


def test_shortest_wait_matches_the_readme_numbers():
    """30.5 min at the least with the defaults (10 s doubling, capped at 20 min a wait, 8 retries)."""
    factor, max_backoff = _email_actor_options()
    waits = [_shortest_wait(n, factor, max_backoff) // 1000 for n in range(load_settings({}).email_max_retries)]
    assert waits == [10, 20, 40, 80, 160, 320, 600, 600]
    assert sum(waits) == 1830


def test_the_jitter_extremes_are_really_the_bounds():
    """Random draws never go below the computed shortest wait (guards the reading of compute_backoff)."""
    factor, max_backoff = _email_actor_options()
    for n in range(8):
        shortest = _shortest_wait(n, factor, max_backoff)
        assert all(compute_backoff(n, factor=factor, max_backoff=max_backoff)[1] >= shortest for _ in range(2000))
