"""bench/cost.py runs end to end at smoke size and prints its CPU table and both ratio lines."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_cost_small_prints_cpu_per_report_and_ratios() -> None:
    run = subprocess.run([sys.executable, "-m", "bench.cost", "--small", "--no-fsync"],
                         capture_output=True, text=True, timeout=240, cwd=ROOT)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    for variant in ("bare", "reportsvc"):
        line = re.search(rf"^{variant}\s+n=40\s+web\s+[0-9.]+\s+worker\s+([0-9.]+)\s+postgres\s+[0-9.]+\s+redis\s+"
                         rf"[0-9.]+\s+smtp\s+[0-9.]+\s+total\s+([0-9.]+) ms CPU/report", run.stdout, re.M)
        assert line is not None, run.stdout
        assert float(line.group(1)) > 0 and float(line.group(2)) > 0, line.group(0)
    names = re.findall(r"^ratio (\w+) [0-9.]+ target <= 1\.3$", run.stdout, re.M)
    assert names == ["cost_total", "cost_worker"], run.stdout
