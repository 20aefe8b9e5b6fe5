"""`flask --app app schedules list|create|pause|resume|run`: the schedules of the API and console, from a shell.

The same validation (web/schedule_schemas.py) and the same service calls (ops/schedules.py) as the API, so the
CLI refuses what the API refuses, and every change is audited with actor `cli` (shell access, not an account).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any, NoReturn

import click
from flask.cli import AppGroup

from reportsvc.web.console_format import when_full

schedules_group = AppGroup("schedules", help="Recurring reports: list, create, pause, resume, run now.")

CLI_ACTOR = "cli"


def _fail(message: str) -> NoReturn:
    raise click.ClickException(message)


def _find(key: str) -> Any:
    from reportsvc.ops import schedules

    row = schedules.by_id_or_name(key)
    if row is None:
        _fail(f"no schedule with the name or id {key!r} (see `flask --app app schedules list`)")
    return row


def _act(key: str, verb: str, call: Callable[..., Any], *refusals: type[Exception]) -> tuple[str, Any]:
    # Find the schedule, make the service call audited as the CLI, turn its refusals into a failure line.
    row = _find(key)
    name = row.name
    try:
        return name, call(row, actor=CLI_ACTOR, via="cli")
    except refusals as exc:
        _fail(f"{name} cannot {verb}: {exc}")


def _stamp(moment: datetime | None) -> str:
    return when_full(moment) if moment else "-"  # the console's full form: one format in every place


@schedules_group.command("list")
def schedules_list() -> None:
    """Every schedule: state, the cron in words, next run, last run's status."""
    from reportsvc.ops import cron
    from reportsvc.state import schedules as store

    page = store.list_page(limit=200)
    if not page.items:
        click.echo("no schedules (create one with `flask --app app schedules create`)")
        return
    for row in page.items:
        last = page.last_runs.get(row.id)
        state = "active" if row.enabled else f"PAUSED ({row.paused_reason or 'paused'})"
        click.echo(f"{row.name}  [{state}]  {cron.describe(row.cron, row.timezone)}  "
                   f"next {_stamp(row.next_run_at if row.enabled else None)}  "
                   f"last {last[1] + ' ' + str(last[0])[:8] if last else '-'}  id {row.id}")


@schedules_group.command("create")
@click.argument("name")
@click.option("--cron", "cron_text", required=True, help='5 fields, e.g. "0 8 * * 1" (Mondays 08:00).')
@click.option("--timezone", default="UTC", show_default=True, help="IANA zone, e.g. Europe/Paris.")
@click.option("--type", "report_type", default=None, help="Report type (default: the default type).")
@click.option("--params", default="{}", show_default=True, help="The type's parameters as a JSON object.")
@click.option("--title", default=None, help="{date}, {week} and {month} are filled from the slot.")
@click.option("--recipient", "recipients", multiple=True, help="An email address (repeat for several).")
@click.option("--misfire", type=click.Choice(["latest", "skip"]), default="latest", show_default=True)
def schedules_create(name: str, cron_text: str, timezone: str, report_type: str | None, params: str,
                     title: str | None, recipients: tuple[str, ...], misfire: str) -> None:
    """Create a schedule; refused (with the field named) exactly as POST /schedules refuses."""
    from reportsvc.ops import cron, schedules
    from reportsvc.state import schedules as store
    from reportsvc.web.schedule_schemas import validate_new
    from reportsvc.web.schemas import InputError

    try:
        parsed_params = json.loads(params)
    except ValueError as exc:
        _fail(f"params: not valid JSON ({exc})")
    raw: dict[str, Any] = {"name": name, "cron": cron_text, "timezone": timezone, "params": parsed_params,
                           "title": title, "recipients": list(recipients), "misfire": misfire}
    if report_type:
        raw["report_type"] = report_type
    try:
        fields = validate_new(raw)
        row = schedules.create(fields, actor=CLI_ACTOR, via="cli")
    except InputError as exc:
        _fail(str(exc))
    except store.NameTaken:
        _fail(f"name: a schedule named {name!r} exists already")
    click.echo(f"created schedule {row.name} ({row.id}): {cron.describe(row.cron, row.timezone)}, "
               f"next run {_stamp(row.next_run_at)}")


@schedules_group.command("pause")
@click.argument("schedule")
def schedules_pause(schedule: str) -> None:
    """Pause a schedule (by name or id): it makes no reports until resumed."""
    from reportsvc.ops import schedules

    row = _find(schedule)
    name, was_enabled = row.name, row.enabled
    schedules.pause(row, actor=CLI_ACTOR, via="cli")
    click.echo(f"paused {name}" if was_enabled else f"{name} was already paused")


@schedules_group.command("resume")
@click.argument("schedule")
def schedules_resume(schedule: str) -> None:
    """Resume a schedule (by name or id) from the next slot after now."""
    from reportsvc import reports
    from reportsvc.ops import cron, schedules

    name, updated = _act(schedule, "resume", schedules.resume, cron.CronError, reports.ParamsError)
    click.echo(f"resumed {name}: next run {_stamp(updated.next_run_at if updated else None)}")


@schedules_group.command("run")
@click.argument("schedule")
def schedules_run(schedule: str) -> None:
    """Make one report from a schedule (by name or id) now; prints the report id."""
    from reportsvc import reports
    from reportsvc.ops import schedules

    name, report = _act(schedule, "run", schedules.run_now, reports.ParamsError)
    click.echo(f"queued report {report.id} from schedule {name}")
