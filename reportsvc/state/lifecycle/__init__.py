"""The report state machine: the only code that writes `report_requests.status`.

Every transition is one conditional UPDATE ... WHERE status = :expected
(plus `run_id = :run_id` for a worker's writes) ... RETURNING, and the
matching `report_events` row is inserted in the same transaction. Zero rows
back means someone else won the race: callers get None/False, never an
exception, and the row is untouched.

Callers use this package as one module (`lifecycle.claim(...)`); the modules behind it, by job:

- `_common`: the bottom every other module imports (tables, session, Outcome, events, `_transition`)
- `worker`: a worker's fenced writes (claim, heartbeat, progress, finish, fail_attempt, cancel_running)
- `heartbeats`: many claims' heartbeats in one statement (heartbeat_many), for a process's heartbeat thread
- `commands`: operator and API transitions (create, record_message, cancel or ask a running report to stop,
  retry, dead-letter requeue)
- `recovery`: the stall sweeper's transition (release_stalled; a dead worker's cancel-requested report ends CANCELLED)
- `timeline`: state-less timeline entries (note, note_many, has_event)
- `files`: retention's file expiry (expire_files, forget_expired_files)
- `emails`: the email claim and the record of its outcome (email_claim, EmailClaim)
- `webhooks`: the completion webhook's claim (webhook_claim)

No module imports a sibling other than `_common`.
"""

from reportsvc.state.lifecycle._common import Outcome, announce, announce_on, current_status
from reportsvc.state.lifecycle.commands import (
    ScheduleLink,
    SlotTaken,
    cancel,
    create,
    record_message,
    requeued_from_dead,
    requeued_from_dead_many,
    retry,
)
from reportsvc.state.lifecycle.emails import EmailClaim, email_claim
from reportsvc.state.lifecycle.files import expire_files, forget_expired_files
from reportsvc.state.lifecycle.heartbeats import heartbeat_many
from reportsvc.state.lifecycle.recovery import release_stalled
from reportsvc.state.lifecycle.timeline import has_event, note, note_many
from reportsvc.state.lifecycle.webhooks import webhook_claim
from reportsvc.state.lifecycle.worker import (
    Claim,
    Hold,
    cancel_running,
    claim,
    fail_attempt,
    finish,
    heartbeat,
    progress,
)

__all__ = [
    "Claim",
    "EmailClaim",
    "Hold",
    "Outcome",
    "ScheduleLink",
    "SlotTaken",
    "announce",
    "announce_on",
    "cancel",
    "cancel_running",
    "claim",
    "create",
    "current_status",
    "email_claim",
    "expire_files",
    "fail_attempt",
    "finish",
    "forget_expired_files",
    "has_event",
    "heartbeat",
    "heartbeat_many",
    "note",
    "note_many",
    "progress",
    "record_message",
    "release_stalled",
    "requeued_from_dead",
    "requeued_from_dead_many",
    "retry",
    "webhook_claim",
]
