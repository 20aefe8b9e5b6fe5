"""bench/queues.py --small runs end to end on its own embedded Valkey and prints every target line."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_queues_small_prints_ratios_and_requeue_figures() -> None:
    run = subprocess.run([sys.executable, str(ROOT / "bench" / "queues.py"), "--small"],
                         capture_output=True, text=True, timeout=240, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-2000:]
    out = run.stdout
    names = re.findall(r"^ratio queues_(\w+) [0-9.]+ target <= 1\.5$", out, re.M)
    for state in ("waiting", "delayed", "held", "dead"):
        assert f"{state}_first" in names and f"{state}_deep" in names
    assert "overview" in names
    assert re.search(r"^requeue_small_seconds [0-9.]+ target < 20$", out, re.M)
    assert re.search(r"^requeue_longest_call_ms [0-9.]+ target < 50$", out, re.M)
    assert "requeued 5000 of 5000" in out
    assert re.search(r"^ratio requeue_to_lane_vs_same_queue [0-9.]+ target <= 1\.5$", out, re.M)
    assert re.search(r"^requeue_to_lane_small_seconds [0-9.]+ target < 20$", out, re.M)
    assert re.search(r"^requeue_to_lane_longest_call_ms [0-9.]+ target < 50$", out, re.M)
    assert "moved 5000 of 5000 dead letters to another queue" in out
