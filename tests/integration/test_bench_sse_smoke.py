"""The event-stream benchmark runs end to end at smoke size and prints its ratio line."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_sse_bench_small() -> None:
    proc = subprocess.run([sys.executable, "-m", "bench.sse", "--small", "--no-fsync"], cwd=ROOT,
                          capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.search(r"streams: every one of 50 read [1-9]\d*\.\.", proc.stdout), proc.stdout
    match = re.search(r"^ratio sse_console_p99 (\d+\.\d+) target <= 2$", proc.stdout, re.M)
    assert match, proc.stdout
    assert float(match.group(1)) > 0  # smoke size only proves it measures; the figure is the full run's
