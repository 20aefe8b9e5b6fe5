"""`python -m bench` (`make bench`): run every benchmark module in this package, one after the other.

A benchmark is any `bench/<name>.py` that does not start with `_`, is not `common`, and runs as a
script (`if __name__ == "__main__"`), so new ones join without touching this file. Each runs as its
own process (`python -m bench.<name> [args]`, its own engines) with its output streamed through; the
`ratio ...` lines are collected and repeated in a summary at the end.

Exit status: 0 when every benchmark measured (a missed target is reported, not fatal); 1 when any
could not measure (non-zero exit or no `ratio` line at all).

    python -m bench                  # everything, full size
    python -m bench --small          # smoke sizes
    python -m bench pipeline api     # only these
    python -m bench --list
"""

from __future__ import annotations

import argparse
import operator
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RATIO = re.compile(r"^ratio (\S+) (\S+) target (<=|>=|<|>) (\S+)\s*$")
OPS = {"<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt}


def discover() -> list[str]:
    """Benchmark module names, sorted."""
    names = []
    for path in sorted(HERE.glob("*.py")):
        name = path.stem
        if name.startswith("_") or name == "common":
            continue
        if "__main__" not in path.read_text(errors="replace"):
            continue
        names.append(name)
    return names


def run_one(name: str, extra: list[str]) -> tuple[int, list[str], float]:
    """Run one benchmark, streaming its output; (exit code, ratio lines, seconds)."""
    started = time.monotonic()
    print(f"\n=== bench.{name} {' '.join(extra)}".rstrip(), flush=True)
    proc = subprocess.Popen([sys.executable, "-m", f"bench.{name}", *extra], cwd=HERE.parent,
                            stdout=subprocess.PIPE, text=True, bufsize=1)
    ratios = []
    assert proc.stdout is not None
    for line in proc.stdout:
        print(line, end="", flush=True)
        if RATIO.match(line.strip()):
            ratios.append(line.strip())
    code = proc.wait()
    return code, ratios, time.monotonic() - started


def verdict(line: str) -> str:
    """'met' / 'MISSED' for a ratio line."""
    m = RATIO.match(line)
    if not m:
        return "?"
    try:
        ok = OPS[m.group(3)](float(m.group(2)), float(m.group(4)))
    except ValueError:
        return "?"
    return "met" if ok else "MISSED"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Run the benchmarks under bench/")
    p.add_argument("only", nargs="*", help="benchmark names (default: all)")
    p.add_argument("--small", action="store_true", help="smoke sizes")
    p.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args = p.parse_args(argv)
    names = discover()
    if args.list:
        print("\n".join(names))
        return 0
    unknown = [n for n in args.only if n not in names]
    if unknown:
        p.error(f"unknown benchmark(s): {', '.join(unknown)} (known: {', '.join(names)})")
    selected = args.only or names
    extra = ["--small"] if args.small else []
    failed: list[str] = []
    summary: list[str] = []
    for name in selected:
        code, ratios, seconds = run_one(name, extra)
        if code != 0 or not ratios:
            failed.append(f"{name} (exit {code}, {len(ratios)} ratio lines)")
        summary += [f"{line:<60} {verdict(line)}" for line in ratios]
        print(f"=== bench.{name}: exit {code} in {seconds:.0f} s", flush=True)
    print("\n=== summary", flush=True)
    for line in summary:
        print(line, flush=True)
    if failed:
        print(f"could not measure: {'; '.join(failed)}", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
