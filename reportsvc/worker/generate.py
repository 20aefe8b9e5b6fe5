"""The generate_report actor: claim, run the phases, publish the PDF, finish.

The actor is thin: Dramatiq concerns (retries, time limit, message id) stay
here, state changes go through `lifecycle`, content comes from `reports`.
"""

from __future__ import annotations

import logging
import time
import traceback
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import dramatiq
from dramatiq.middleware import CurrentMessage
from dramatiq.middleware.time_limit import TimeLimitExceeded

from reportsvc import logs, reports
from reportsvc.config import get_settings
from reportsvc.names import REPORTS_QUEUE
from reportsvc.ops import webhooks
from reportsvc.state import lifecycle
from reportsvc.state.storage import StoredPdf, get_storage, report_key
from reportsvc.worker import context, report_log
from reportsvc.worker import heartbeat as heartbeats
from reportsvc.worker.broker import ExactRetries, note_failure
from reportsvc.worker.simulate import SimulatedFailure, Simulation

log = logging.getLogger("reportsvc.worker")

#: Progress is advisory: a write closer than this to the previous one (the claim counts) is skipped, so a
#: fast report does not pay four commits (and four index-touching row versions) for phases that take
#: milliseconds, while a slow one still shows progress rising several times a second. Liveness and
#: fencing do not depend on it: the heartbeat thread beats and notices a lost claim, and `finish()`
#: publishes only under the claim.
PROGRESS_MIN_INTERVAL = 0.2

PHASES = (
    (0, 30, "Fetching data"),
    (30, 60, "Processing"),
    (60, 90, "Rendering PDF"),
    (90, 99, "Saving"),
)


EMAIL_OUTCOMES = ("email_sent", "email_failed", "email_skipped")


class ClaimLost(Exception):
    """This worker's claim was taken away (stall sweep, another worker): stop without writing."""


class CancelRequested(Exception):
    """An operator asked to cancel this RUNNING report: stop, publish nothing, end it CANCELLED."""


class Run:
    """One attempt at one report under one claim."""

    def __init__(self, claim: lifecycle.Claim, simulation: Simulation, heartbeat: heartbeats.Heartbeat,
                 report_type: reports.ReportType) -> None:
        self.claim = claim
        self.report_type = report_type
        self.simulation = simulation
        self.heartbeat = heartbeat
        self.tag = f"Job {claim.report_id}"
        self.last_write = time.monotonic()  # the claim just wrote progress 0 "Starting"

    def phase(self, index: int, work: Callable[[], Any]) -> Any:
        """Run one phase: report progress at its start, spend simulated time, do the work."""
        start, end, label = PHASES[index]
        logs.step(log, "%s [Phase %d/%d] %s", self.tag, index + 1, len(PHASES), label)
        self.set_progress(start, label)
        self.simulation.spend(index, len(PHASES), lambda frac: self.set_progress(
            start + int((end - start) * frac), label))
        return work()

    def check(self) -> None:
        """Raise ClaimLost or CancelRequested if the heartbeat thread has seen either (no query)."""
        if self.heartbeat.lost.is_set():
            raise ClaimLost(self.claim.report_id)
        if self.heartbeat.cancel.is_set():
            raise CancelRequested(self.claim.report_id)

    def set_progress(self, percent: int, message: str) -> None:
        """Write progress under the claim (throttled, see PROGRESS_MIN_INTERVAL); raise when fenced out or cancelled."""
        self.check()
        now = time.monotonic()
        if now - self.last_write < PROGRESS_MIN_INTERVAL:
            return
        hold = lifecycle.progress(self.claim.report_id, self.claim.run_id, percent, message)
        if hold == "lost":
            raise ClaimLost(self.claim.report_id)
        if hold == "cancel":
            raise CancelRequested(self.claim.report_id)
        self.last_write = now

    def execute(self) -> None:
        """Gather, render and publish the report."""
        claim, report_type = self.claim, self.report_type
        params = {k: v for k, v in claim.params.items() if k != "simulate"}
        source = _source_for(report_type.name, self.set_progress)
        try:
            self.simulation.maybe_fail(claim.attempts)
            data = self.phase(0, lambda: report_type.run_gather(
                source, report_type.params_model.model_validate(params), title=claim.title))
            self.phase(1, lambda: None)
            pdf = self.phase(2, lambda: report_type.render(data))
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()
        self.phase(3, lambda: None)
        self.simulation.maybe_hang(self.check)
        self.check()

        # The key names this run: a fenced-out run's late write can never be the file its report points at.
        stored = StoredPdf.of(report_key(claim.report_id, claim.run_id), pdf)
        storage = get_storage()

        def publish() -> tuple[str, int]:
            # Under the claim's row lock; an object store that is down raises, and the attempt fails and
            # retries on the normal schedule with nothing visible (the row stays RUNNING until then).
            return stored.key, storage.save(stored.key, pdf)

        if not lifecycle.finish(claim.report_id, claim.run_id, publish=publish, expected=(stored.key, stored.size),
                                type_version=report_type.version, sha256=stored.sha256):
            # READY requires no cancel request: a request that landed first is why the write matched nothing.
            if lifecycle.current_status(claim.report_id) == "RUNNING":
                raise CancelRequested(claim.report_id)
            raise ClaimLost(claim.report_id)


def _source_for(report_type: str, progress: Callable[[int, str], None]) -> Any:
    from reportsvc.worker.sources import source_for

    return source_for(report_type, progress)


def _at_ms(epoch_ms: int) -> datetime:
    return datetime.fromtimestamp(epoch_ms / 1000, UTC)


def _retry_delay_ms(message: dramatiq.Message) -> int | None:
    """The delay of the retry that will follow this failure, or None when this was the last try."""
    broker = dramatiq.get_broker()
    actor = broker.get_actor(message.actor_name)
    retries_done = message.options.get("retries", 0)
    policy = next((m for m in broker.middleware if isinstance(m, ExactRetries)), None)
    if policy is None:
        return None
    max_retries = message.options.get("max_retries", actor.options.get("max_retries", policy.max_retries))
    if retries_done >= max_retries:
        return None
    return policy.delay_for(retries_done)


def process(report_id_text: str) -> None:
    """Run one delivery of a generate message (the body of the actor)."""
    try:
        report_id = uuid.UUID(report_id_text)
    except ValueError:
        log.error("Dropping message with malformed report id %r", report_id_text)
        return
    message = CurrentMessage.get_current_message()
    message_id = message.message_id if message else None
    settings = get_settings()
    claim = lifecycle.claim(report_id, worker=context.worker_id(), message_id=message_id)
    if claim is None:
        status = lifecycle.current_status(report_id)
        log.info("Job %s skipped: status is %s, nothing to do (message %s)", report_id, status, message_id)
        if status == "READY" and not lifecycle.has_event(report_id, EMAIL_OUTCOMES):
            # A redelivery after a crash between READY and the email: send or queue it now (the email
            # claim drops duplicates, so an email already on its way is not sent twice).
            _email(report_id, settings)
            webhooks.queue_if_wanted(report_id)
        return
    with report_log.capturing(report_id, claim.attempts, context.worker_id(), settings.report_log_lines) as capture:
        _run_claimed(claim, message, settings, capture)


def _run_claimed(claim: lifecycle.Claim, message: Any, settings: Any, capture: report_log.Capture) -> None:
    """Run one claimed attempt to its end (READY, a failed attempt, CANCELLED, or a lost claim)."""
    report_id = claim.report_id
    logs.step(log, "Job %s active (attempt %d, message %s)", report_id, claim.attempts,
                    message.message_id if message else None)
    try:
        report_type = reports.get(claim.report_type)
    except reports.UnknownReportType:
        _fail_not_installed(claim)
        return
    simulation = Simulation.from_params(claim.params, enabled=settings.fault_injection)
    heartbeat = heartbeats.start(report_id, claim.run_id, settings.heartbeat_interval_seconds,
                                 shared=settings.hotpath.worker_heartbeat_shared, capture=capture)
    started = time.monotonic()
    try:
        Run(claim, simulation, heartbeat, report_type).execute()
    except ClaimLost:
        log.warning("Job %s claim lost (run %s); stopping without writing", report_id, claim.run_id)
        return
    except CancelRequested:
        if lifecycle.cancel_running(report_id, claim.run_id):
            log.info("Job %s cancelled while running: stopped after %.2f s, no file, no email",
                     report_id, time.monotonic() - started)
            if claim.callback_url:
                webhooks.queue_outcome(report_id, "CANCELLED", claim.attempts)
        else:
            log.warning("Job %s cancel noticed but its claim was lost meanwhile; stopping without writing", report_id)
        return
    except (Exception, TimeLimitExceeded) as exc:
        failed_ms = int(time.time() * 1000)
        error = _describe(exc, settings.report_time_limit_seconds)
        # A failure the next try would repeat (a dataset's SQL refused, its timeout) is final at once.
        permanent = bool(getattr(exc, "permanent", False))
        retry_in = _retry_delay_ms(message) if message and not permanent else None
        if retry_in is not None:
            note_failure(message.message_id, failed_ms)  # the retry is due retry_in after this moment
        outcome = lifecycle.fail_attempt(
            report_id, claim.run_id, error=error, traceback_text=traceback.format_exc(limit=30), retry_in_ms=retry_in,
            failed_at=_at_ms(failed_ms),
            final_note="not retried: another try would fail the same way" if permanent else "retries exhausted",
        )
        if outcome == "CANCELLED":
            log.info("Job %s attempt ended (%s) after a cancel was requested: CANCELLED, no retry", report_id, error)
            if claim.callback_url:
                webhooks.queue_outcome(report_id, "CANCELLED", claim.attempts)
            return
        if outcome is None:
            if lifecycle.current_status(report_id) == "READY":
                # The time limit fired just after READY committed: the report is done, its email is not.
                log.warning("Job %s interrupted after it was READY (%s); queueing its email", report_id, error)
                _email(report_id, settings, inline=False)
                webhooks.queue_if_wanted(report_id)
                return
            log.warning("Job %s attempt failed after its claim was lost; not retrying", report_id)
            return
        log.warning("Job %s attempt %d failed: %s", report_id, claim.attempts, error,
                    extra={report_log.TRACEBACK_EXTRA: traceback.format_exc(limit=30)})
        if outcome == "FAILED" and claim.callback_url:
            webhooks.queue_outcome(report_id, "FAILED", claim.attempts)
        if permanent:
            return  # acknowledged: Dramatiq must not retry what cannot succeed
        raise
    finally:
        heartbeat.stop()
    took = time.monotonic() - started
    if claim.callback_url:
        webhooks.queue_outcome(report_id, "READY", claim.attempts)
    if claim.notify_email or settings.email_default_to:
        simulation.maybe_pause_before_email()
        email = _email(report_id, settings, known=_known(claim))
    else:
        # The email actor would only load the row to find nobody to tell: spare the message and the query.
        logs.step(log, "Job %s email skipped: no recipient (set notify_email or EMAIL_DEFAULT_TO)", report_id)
        email = "none"
    # The job's one line in the worker's own log under WORKER_LOG_LINES=summary (the steps above are not).
    log.info("Job %s completed in %.2f s (attempt %d, email %s)", report_id, took, claim.attempts, email)


def _fail_not_installed(claim: lifecycle.Claim) -> None:
    """FAILED at once, no retries: another try on this worker would meet the same missing package."""
    error = f"report type {claim.report_type} is not installed on worker {context.worker_id()}"
    outcome = lifecycle.fail_attempt(claim.report_id, claim.run_id, error=error, traceback_text=None,
                                     retry_in_ms=None, final_note="report type not installed; not retried")
    log.error("Job %s failed: %s", claim.report_id, error)
    if outcome == "FAILED" and claim.callback_url:
        webhooks.queue_outcome(claim.report_id, "FAILED", claim.attempts)


def _describe(exc: BaseException, time_limit: int) -> str:
    if isinstance(exc, TimeLimitExceeded):
        return f"time limit exceeded ({time_limit} s)"
    if isinstance(exc, SimulatedFailure) or getattr(exc, "permanent", None) is not None:
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def _email(report_id: uuid.UUID, settings: Any, *, inline: bool | None = None, known: Any = None) -> str:
    """The READY report's email: sent in this job (EMAIL_INLINE) or queued as the email actor's message."""
    from reportsvc.worker import notify

    return notify.after_ready(report_id, inline=settings.hotpath.email_inline if inline is None else inline,
                              known=known)


def _known(claim: lifecycle.Claim) -> Any:
    """What the claim says about the report, enough to compose its email without reading the row again."""
    from reportsvc.worker import notify

    return notify.Known(claim.report_id, claim.title, claim.report_type, claim.notify_email, claim.notify_emails)


# Retries and the time limit come from the broker's middleware (REPORT_MAX_RETRIES,
# REPORT_TIME_LIMIT_SECONDS), so they follow the settings of the process that runs the worker.
@dramatiq.actor(queue_name=REPORTS_QUEUE, exact_retries=True)
def generate_report(report_id: str) -> None:
    """Render one report (message body: the report id only)."""
    with context.get_app().app_context():
        process(report_id)
