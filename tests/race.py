"""Run callables at the same moment in real threads (a barrier releases them together) and collect results."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


def run_together(app: Any, *calls: Callable[[], Any], timeout: float = 30.0) -> list[Any]:
    """Each call in its own thread inside an app context, released together; results in call order.

    An exception in any thread is re-raised here, in the test's thread."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)
    errors: list[BaseException] = []

    def run(index: int, call: Callable[[], Any]) -> None:
        try:
            with app.app_context():
                barrier.wait(timeout=10)
                results[index] = call()
        except BaseException as exc:  # re-raised below, where pytest sees it
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    if errors:
        raise errors[0]
    assert not any(t.is_alive() for t in threads), "a racing call did not finish"
    return results
