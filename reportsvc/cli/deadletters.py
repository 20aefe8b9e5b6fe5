"""`flask --app app queues requeue-dead NAME [IDS]... | --all`: requeue dead letters from a shell.

The API's rules and service calls: named letters go through the same action as `POST /queues/<name>/dead/requeue`
with ids (back to the queue each died on unless `--lane` says otherwise); `--all` creates the same bulk job as
the console's "all matching" (batch lane by default) and runs it in this process, batch by batch, with its
progress on `/console/queues/bulk-jobs/<id>`. If the command is interrupted, the scheduler's watchdog hands the
rest of the job to a worker. Everything is audited with actor `cli`.
"""

from __future__ import annotations

from typing import Any, NoReturn

import click
from flask.cli import with_appcontext

from reportsvc.names import LANES

CLI_ACTOR = "cli"


def _fail(message: str) -> NoReturn:
    raise click.ClickException(message)


@click.command("requeue-dead")
@click.argument("name")
@click.argument("ids", nargs=-1)
@click.option("--all", "all_", is_flag=True, help="every dead letter matching the filter options (a bulk job)")
@click.option("--actor", "actor_name", help="with --all: only letters of this Dramatiq actor")
@click.option("--error", help="with --all: only letters whose report's error contains this text")
@click.option("--dead-after", help="with --all: dead at or after this ISO 8601 time")
@click.option("--dead-before", help="with --all: dead before this ISO 8601 time")
@click.option("--lane", type=click.Choice([*LANES, "original"]),
              help="where reports and their letters go: default batch with --all, original (their own queue) with ids")
@with_appcontext
def requeue_dead(name: str, ids: tuple[str, ...], all_: bool, actor_name: str | None, error: str | None,
                 dead_after: str | None, dead_before: str | None, lane: str | None) -> None:
    """Requeue the named dead letters of queue NAME, or --all matching ones. Audited."""
    from reportsvc.web.errors import ApiError
    from reportsvc.web.queue_actions import Selection, dead_action, parse_filter
    from reportsvc.web.queue_reads import check_queue

    raw_filter = {k: v for k, v in (("actor", actor_name), ("error", error), ("dead_after", dead_after),
                                    ("dead_before", dead_before)) if v}
    if bool(ids) == all_:
        _fail("name dead letter ids, or pass --all (with optional filter options), not both")
    if raw_filter and not all_:
        _fail("--actor, --error, --dead-after and --dead-before go with --all")
    try:
        queue = check_queue(name)
        if all_:
            _requeue_all(queue, parse_filter(raw_filter), lane)
            return
        body, _ = dead_action(queue, "requeue", Selection(list(dict.fromkeys(ids)), None, lane), CLI_ACTOR)
    except ApiError as exc:
        _fail(exc.message)
    click.echo(f"requeued {body['done']} of {body['requested']} dead letters of {queue} "
               f"({_where(body['lane'])}); {body['reports_requeued']} reports back to PENDING")
    for skip in body["skipped"]:
        click.echo(f"skipped {skip['id']}: {skip['reason']}")
    for missing in body["missing"]:
        click.echo(f"not a dead letter now: {missing}")


def _where(lane: str | None) -> str:
    return "to the queue each died on" if lane in (None, "original") else f"to the {lane} lane"


def _requeue_all(queue: str, flt: Any, lane: str | None) -> None:
    """Create the bulk job as the console does, audit it, and run it here."""
    from reportsvc.ops import bulkjobs
    from reportsvc.state import audit

    job = bulkjobs.create(action="requeue", queue=queue, flt=flt, actor=CLI_ACTOR, lane=lane)
    audit.record(CLI_ACTOR, "dead.requeue_all", f"queue:{queue}", "accepted",
                 {"job_id": str(job.id), "filter": job.filter, "lane": job.lane, "total_in_range": job.total,
                  "via": "cli"})
    click.echo(f"bulk job {job.id}: requeue up to {job.total} dead letters of {queue} {_where(job.lane)}")
    state = bulkjobs.run(job.id)
    done = bulkjobs.get(job.id)
    assert done is not None
    click.echo(f"{state or done.state}: requeued {done.done} of {done.matched} matching "
               f"({done.skipped} skipped, {done.scanned} scanned in {done.batches} batches)")
    if done.state != "done":
        _fail(f"bulk job {job.id} ended {done.state}: {done.error or 'see the audit log'}")
