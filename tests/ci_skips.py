"""Under `CI=true` a skipped test is a failed test: a browser, engine or compatibility skip there means the CI
machine is missing something `.ci/run` should have installed, and a silent skip would hide it."""

from __future__ import annotations

import os
from collections.abc import Generator
from typing import Any

import pytest


def ci_enabled() -> bool:
    """True when the CI environment variable says so (`true`/`1`/`yes`, as CI services set it)."""
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def _as_failure(report: Any) -> None:
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    report.outcome = "failed"
    report.longrepr = f"skipped under CI=true, which must run everything: {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    """Turn a test's skip (in setup or in the test) into a failure when CI is on; xfail stays xfail."""
    outcome = yield
    report = outcome.get_result()
    if ci_enabled() and report.skipped and not hasattr(report, "wasxfail"):
        _as_failure(report)


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Generator[None, Any, None]:
    """A whole module skipped at import (importorskip, allow_module_level) fails too when CI is on."""
    outcome = yield
    report = outcome.get_result()
    if ci_enabled() and report.skipped:
        _as_failure(report)
