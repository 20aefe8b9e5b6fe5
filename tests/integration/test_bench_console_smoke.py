"""The console benchmark runs end to end at smoke size and prints its ratio lines."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NAMES = ("first_page", "filtered_page", "search_title", "search_id", "deep_page", "poll_fragment")


@pytest.mark.slow
def test_console_bench_small() -> None:
    proc = subprocess.run([sys.executable, "-m", "bench.console", "--small", "--no-fsync"], cwd=ROOT,
                          capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for name in NAMES:
        match = re.search(rf"^ratio console_{name} (\d+\.\d+) target <= 1\.5$", proc.stdout, re.M)
        assert match, f"no ratio line for {name}:\n{proc.stdout}"
        # smoke size only proves it measures; the real figure comes from the full run (README)
        assert float(match.group(1)) > 0
