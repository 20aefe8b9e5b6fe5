"""Operator maintenance actors on their own ``maintenance`` queue (bulk dead-letter jobs).

Kept off the ``reports`` queue so a 100,000-letter requeue never waits behind reports, and
reports never wait behind it.
"""

from __future__ import annotations

import logging
import uuid

import dramatiq

from reportsvc.names import BULK_JOB_ACTOR, MAINTENANCE_QUEUE
from reportsvc.worker import context

log = logging.getLogger("reportsvc.maintenance")




# One hour is far beyond a 100,000-letter job (~seconds); retries resume from the stored cursor.
@dramatiq.actor(actor_name=BULK_JOB_ACTOR, queue_name=MAINTENANCE_QUEUE, max_retries=3, time_limit=3_600_000)
def run_bulk_job(job_id: str) -> None:
    """Run one bulk dead-letter job (message body: the job id)."""
    from reportsvc.ops import bulkjobs

    try:
        ident = uuid.UUID(job_id)
    except ValueError:
        log.error("Dropping bulk job message with malformed id %r", job_id)
        return
    with context.get_app().app_context():
        outcome = bulkjobs.run(ident)
    if outcome == "busy":
        # A runner that died leaves its lease for LEASE_SECONDS; look again once it has expired.
        raise dramatiq.Retry(f"bulk job {job_id} is leased by another runner",
                             delay=(bulkjobs.LEASE_SECONDS + 5) * 1000)
