"""bench/memory.py --small runs end to end on its own embedded engines and prints its ratio lines."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

EXPECTED = ("memory_growth",)
ROOT = Path(__file__).resolve().parents[2]


def test_bench_memory_small_prints_ratios() -> None:
    run = subprocess.run([sys.executable, "-m", "bench.memory", "--small", "--no-fsync"],
                         capture_output=True, text=True, timeout=180, cwd=ROOT)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    names = re.findall(r"^ratio (\w+) [0-9.]+ target (?:>=|<=) [0-9.]+$", run.stdout, re.M)
    assert names, run.stdout
    for name in EXPECTED:
        assert name in names, (name, run.stdout)
