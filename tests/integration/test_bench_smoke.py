"""Each throughput benchmark runs end to end at smoke size on its own embedded engines and prints its ratio lines."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("module", "expected"),
    [
        ("bench.api", ("api_create_cpu_ms", "api_create", "api_create_p99", "api_status", "api_status_p99")),
        # the default client is wrk when installed; the bench still measures without it
        ("bench.api --client python", ("api_create_cpu_ms", "api_create", "api_status")),
        ("bench.memory", ("memory_growth",)),
        ("bench.pipeline", ("pipeline_1x8",)),
        ("bench.pipeline --report page", ("pipeline_1x8",)),
        ("bench.table_memory", ("table_memory",)),
        ("bench.storage", ("storage_pipeline_s3_vs_local", "storage_download_s3_vs_local")),
    ],
)
def test_bench_small_prints_ratios(module: str, expected: tuple[str, ...]) -> None:
    run = subprocess.run([sys.executable, "-m", *module.split(), "--small", "--no-fsync"],
                         capture_output=True, text=True, timeout=180, cwd=ROOT)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    names = re.findall(r"^ratio (\w+) [0-9.]+ target (?:>=|<=) [0-9.]+$", run.stdout, re.M)
    for name in expected:
        assert name in names, (name, run.stdout)
