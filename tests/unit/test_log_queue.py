"""WORKER_LOG_QUEUE: records written by one thread through a queue come out as the job thread would have written
them: same order, the job's ids, the exception text (in a child process: it rewires the root logger)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r"""
import logging, sys, threading
from reportsvc import logs

logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stdout)
logs.configure(sys.argv[1])
if sys.argv[2] == "queue":
    logs.write_from_thread()
log = logging.getLogger("reportsvc.worker")

def job():
    logs.set_job_context(report_id="r-123", message_id="m-456")
    for i in range(50):
        log.info("line %d of %s", i, "the job")
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("failed")
    logs.clear_job_context()

t = threading.Thread(target=job)
t.start(); t.join()
log.info("after the job")
"""


def run(log_format: str, mode: str = "queue") -> str:
    proc = subprocess.run([sys.executable, "-c", SCRIPT, log_format, mode], capture_output=True, text=True, timeout=60,
                          cwd=ROOT, check=True)
    return proc.stdout


def test_queued_lines_keep_order_job_ids_and_traceback_in_text_format() -> None:
    lines = run("text").splitlines()
    job_lines = [line for line in lines if ": line " in line]
    assert job_lines == [f"INFO reportsvc.worker: line {i} of the job [report r-123, message m-456]" for i in range(50)]
    failed = lines.index("ERROR reportsvc.worker: failed")
    assert lines[failed + 1] == "Traceback (most recent call last):"
    assert "ValueError: boom [report r-123, message m-456]" in lines
    assert lines[-1] == "INFO reportsvc.worker: after the job"  # written at exit: nothing left in the queue


def without_timestamps(output: str) -> list[dict[str, object]]:
    import json

    return [{k: v for k, v in json.loads(line).items() if k != "ts"} for line in output.splitlines()]


def test_queued_output_is_exactly_the_direct_output() -> None:
    assert run("text", "queue") == run("text", "direct")
    assert without_timestamps(run("json", "queue")) == without_timestamps(run("json", "direct"))


def test_queued_lines_keep_job_ids_and_exception_in_json_format() -> None:
    import json

    records = [json.loads(line) for line in run("json").splitlines()]
    assert [r["message"] for r in records[:2]] == ["line 0 of the job", "line 1 of the job"]
    assert {(r["report_id"], r["message_id"]) for r in records[:51]} == {("r-123", "m-456")}
    assert "ValueError: boom" in records[50]["exc"]
    assert records[-1]["message"] == "after the job" and "report_id" not in records[-1]


THREAD_SCRIPT = r"""
import logging, sys, threading
from reportsvc import logs

seen = []

class Where(logging.Handler):
    def emit(self, record):
        seen.append(threading.current_thread().name)

logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
logging.getLogger().addHandler(Where())
logs.write_from_thread()
t = threading.Thread(target=lambda: logging.getLogger("reportsvc.worker").info("hello"), name="job-thread")
t.start(); t.join()
sys.stderr.write(" ".join(seen))
"""


def test_handlers_that_need_the_logging_thread_stay_in_it() -> None:
    run = subprocess.run([sys.executable, "-c", THREAD_SCRIPT], capture_output=True, text=True, timeout=60,
                         cwd=ROOT, check=True)
    assert run.stderr == "job-thread"  # the capture-like handler ran in the job's thread, once
    assert run.stdout.splitlines() == ["hello"]  # the stream handler still wrote the line (from the writer)
