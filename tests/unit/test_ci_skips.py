"""Under CI=true a skip fails the run; without it a skip stays a skip."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SKIPPING = '''
import pytest

@pytest.fixture
def browser():
    pytest.skip("/usr/bin/chromium is not installed")

def test_in_setup(browser):
    pass

def test_in_body():
    pytest.skip("needs the embedded PostgreSQL")

@pytest.mark.skip(reason="compat")
def test_marked():
    pass

@pytest.mark.xfail(reason="known", strict=True)
def test_expected_failure():
    assert False
'''
MODULE_SKIP = 'import pytest\npytest.importorskip("no_such_module_for_ci_test")\n\ndef test_never():\n    pass\n'


def _run(tmp_path: Path, ci: str | None) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_skipping.py").write_text(SKIPPING)
    (tmp_path / "test_module_skip.py").write_text(MODULE_SKIP)
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["PYTHONPATH"] = str(ROOT)
    if ci is not None:
        env["CI"] = ci
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "tests.ci_skips", "-q", "-rA",
                           "-p", "no:cacheprovider", "--continue-on-collection-errors",
                           "--rootdir", str(tmp_path), "-c", os.devnull, str(tmp_path)],
                          capture_output=True, text=True, env=env, timeout=60, cwd=tmp_path)


@pytest.mark.parametrize("ci", ["true", "1"])
def test_skips_fail_under_ci(tmp_path: Path, ci: str) -> None:
    run = _run(tmp_path, ci)
    assert run.returncode == 1, run.stdout  # failed, not interrupted: every skip is listed
    for what in ("chromium is not installed", "needs the embedded PostgreSQL", "compat", "no_such_module_for_ci_test"):
        assert "skipped under CI=true, which must run everything: " in run.stdout and what in run.stdout, what
    summary = run.stdout.splitlines()[-1]
    # a skip in setup (fixture, mark) reports as an error, one in the body as a failure, one at import as an error
    assert summary.startswith("1 failed, 1 xfailed, 3 errors"), run.stdout
    assert "skipped" not in summary


def test_skips_stay_skips_without_ci(tmp_path: Path) -> None:
    run = _run(tmp_path, None)
    assert run.returncode == 0, run.stdout
    assert run.stdout.splitlines()[-1].startswith("4 skipped, 1 xfailed"), run.stdout
