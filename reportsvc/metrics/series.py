"""The metric catalogue and how each series is named in the Redis counters hash."""

from __future__ import annotations

import math

PREFIX = "reportsvc"
COUNTERS_KEY = "reportsvc:metrics:counters"

DURATION_BUCKETS: tuple[float, ...] = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, math.inf)
STORAGE_BUCKETS: tuple[float, ...] = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, math.inf)
WAIT_BUCKETS: tuple[float, ...] = (0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600, math.inf)

# name -> help, for every counter (series appear once they have moved; known ones are also pre-declared).
COUNTERS: dict[str, str] = {
    "reports_created_total": "Reports created (PENDING), by type.",
    "reports_completed_total": "Reports that became READY, by type.",
    "reports_failed_total": "Reports that became FAILED (retries exhausted or stalled too often), by type.",
    "reports_cancelled_total": "Reports cancelled (PENDING at once, RUNNING when its worker stops), by type.",
    "report_attempts_total": "Attempts started (claims), by type.",
    "report_attempts_failed_total": "Attempts that failed (retried or final), by type.",
    "reports_retried_total": "Manual retries and dead-letter requeues of FAILED reports, by type.",
    "report_stalls_total": "Claims released by the stall sweep (heartbeat went stale).",
    "report_requeues_total": "Messages re-sent by the stall sweep or the orphan reconciler.",
    "emails_sent_total": "Report-ready emails sent.",
    "emails_failed_total": "Report-ready email attempts that failed.",
    "emails_skipped_total": "Report-ready emails skipped (no SMTP server configured).",
    "enqueue_failures_total": "Messages that could not be sent (the reconciler delivers them later).",
    "retention_files_deleted_total": "PDF files deleted by the retention policy.",
    "retention_reports_deleted_total": "Finished reports deleted by the retention policy.",
    "retention_audit_rows_deleted_total": "Audit log rows deleted by the retention policy.",
    "storage_errors_total": "Report store operations that failed (store down, refused, timed out), by backend "
                            "and operation.",
    "storage_files_missing_total": "Downloads of a READY report whose file the store did not have, by backend.",
    "storage_orphans_deleted_total": "Stored files no report names (fenced-out or abandoned runs) deleted.",
}
HISTOGRAMS: dict[str, tuple[str, tuple[float, ...]]] = {
    "report_duration_seconds": ("Run time of one attempt, claim to READY or failure, by outcome.",
                                DURATION_BUCKETS),
    "report_queue_wait_seconds": ("Time a generate message waited (enqueued or due, to started).", WAIT_BUCKETS),
    "storage_operation_seconds": ("Latency of one report store operation, by backend and operation.",
                                  STORAGE_BUCKETS),
}
#: Counters labelled by ``report_type``.
TYPED = {"reports_created_total", "reports_completed_total", "reports_failed_total", "reports_cancelled_total",
         "report_attempts_total", "report_attempts_failed_total", "reports_retried_total"}
#: Counters with labels of their own (the rest have none, or report_type when TYPED).
LABELS: dict[str, list[str]] = {"storage_errors_total": ["backend", "operation"],
                                "storage_files_missing_total": ["backend"]}


# --------------------------------------------------------------------------- series encoding


def _clean(value: object) -> str:
    return str(value).replace("|", "_").replace(",", "_").replace("=", "_")[:64]


def field_name(name: str, labels: dict[str, object] | None = None) -> str:
    """Hash field of one series: ``name|k=v,k=v`` (labels sorted)."""
    if not labels:
        return name
    # Remembered: a worker names the same few series for every report (eight a report, ~2 us each to build).
    # The values' types are part of the key (1 and True are equal keys but not the same label text).
    try:
        key = (name, tuple(labels.items()), tuple(map(type, labels.values())))
        found = _FIELD_NAMES.get(key)
    except TypeError:  # an unhashable label value: built each time
        key, found = None, None
    if found is None:
        found = name + "|" + ",".join(f"{k}={_clean(v)}" for k, v in sorted(labels.items()))
        if key is not None and len(_FIELD_NAMES) < _FIELD_NAMES_MAX:
            _FIELD_NAMES[key] = found
    return found


#: field_name's memory, bounded: past this many series (labels of unbounded values) it builds the rest each time.
_FIELD_NAMES_MAX = 4096
_FIELD_NAMES: dict[tuple[object, ...], str] = {}


def parse_field(raw: str) -> tuple[str, dict[str, str]]:
    """Inverse of field_name."""
    name, _, rest = raw.partition("|")
    labels: dict[str, str] = {}
    if rest:
        for pair in rest.split(","):
            k, _, v = pair.partition("=")
            labels[k] = v
    return name, labels


def le_label(bound: float) -> str:
    """The ``le`` label of a histogram bucket bound."""
    return "+Inf" if math.isinf(bound) else repr(float(bound))
