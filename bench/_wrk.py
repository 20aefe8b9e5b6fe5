"""wrk as bench/api.py's load client: the same requests as bench/_load.py from a small C client.

bench/_load.py's Python threads share the machine's cores with the server they measure (2 on the
development VM): their GIL hand-offs and per-request parsing take CPU the server then waits for, which
raises the server's own CPU per request. wrk (Debian's `wrk`) does the same loopback keep-alive load from
two event-loop threads. A Lua script makes the requests (POST /reports with the JSON body, or GET status
over the ids file in turn) and prints one JSON line at the end: requests, seconds, p50/p99 and errors
(wrk counts a status of 400 or more as an error). The token comes from the environment (BENCH_TOKEN), not
the command line. bench/api.py uses wrk when it is on PATH unless `--client python` says otherwise.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

SCRIPT = r"""
local mode, ids_file, body = "create", nil, nil
local ids, n = {}, 0
local token = os.getenv("BENCH_TOKEN") or ""

function init(args)
  mode = args[1]
  if mode == "status" then
    for line in io.lines(args[2]) do
      if #line > 0 then ids[#ids + 1] = line end
    end
    n = math.random(#ids)
  else
    local f = io.open(args[2], "rb"); body = f:read("*a"); f:close()
  end
end

function request()
  local headers = {["Authorization"] = "Bearer " .. token}
  if mode == "status" then
    n = (n + 7) % #ids + 1
    return wrk.format("GET", "/reports/" .. ids[n] .. "/status", headers)
  end
  headers["Content-Type"] = "application/json"
  return wrk.format("POST", "/reports", headers, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %d, "elapsed": %f, "p50": %f, "p99": %f, "status_errors": %d, "socket_errors": %d}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1e6, latency:percentile(99) / 1e6,
    e.status, e.connect + e.read + e.write + e.timeout))
end
"""


def available() -> bool:
    """wrk is installed (`apt-get install wrk`)."""
    return shutil.which("wrk") is not None


def load(port: int, duration: float, concurrency: int, mode: str, ids_file: str | None, token: str,
         body: str) -> dict[str, object]:
    """One wrk run against 127.0.0.1:port: {"n", "elapsed", "p50", "p99", "error_count", "errors"}."""
    with tempfile.TemporaryDirectory(prefix="bench-wrk-") as tmp:
        script = Path(tmp) / "load.lua"
        script.write_text(SCRIPT)
        data = ids_file
        if mode == "create":
            data = str(Path(tmp) / "body.json")
            Path(data).write_text(body)
        threads = max(1, min(2, concurrency))
        cmd = ["wrk", "-t", str(threads), "-c", str(concurrency), "-d", f"{max(1, round(duration))}s",
               "--timeout", "30s", "-s", str(script), f"http://127.0.0.1:{port}", "--", mode, str(data)]
        out = subprocess.run(cmd, env={**os.environ, "BENCH_TOKEN": token}, capture_output=True, text=True,
                             timeout=duration + 120, check=False)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("WRKJSON ")), None)
    if out.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({out.returncode}):\n{out.stdout[-1000:]}\n{out.stderr[-1000:]}")
    got = json.loads(line.removeprefix("WRKJSON "))
    errors = got["status_errors"] + got["socket_errors"]
    return {"n": got["requests"] - got["status_errors"], "elapsed": got["elapsed"], "p50": got["p50"],
            "p99": got["p99"], "error_count": errors,
            "errors": [f"{got['status_errors']} responses >= 400, {got['socket_errors']} socket errors"]}
