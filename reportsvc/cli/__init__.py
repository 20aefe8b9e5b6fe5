"""Flask CLI commands (flask --app app ...)."""

from __future__ import annotations

from typing import Any, NoReturn

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from reportsvc.cli.deadletters import requeue_dead
from reportsvc.cli.schedules import schedules_group
from reportsvc.cli.storage import storage_group
from reportsvc.web.console_format import when_full


@click.command("scheduler")
def scheduler_command() -> None:
    """Run the scheduler: stall sweep, orphan reconcile, housekeeping."""
    from reportsvc.ops import scheduler

    scheduler.run(current_app._get_current_object())  # type: ignore[attr-defined]


@click.command("sweep")
def sweep_command() -> None:
    """Run one stall sweep and one reconcile now, and print what they did."""
    from reportsvc.ops import sweeper
    from reportsvc.redis_client import get_redis

    settings = current_app.extensions["reportsvc.settings"]
    click.echo("stall sweep: " + sweeper.sweep_stalled(get_redis(), settings).summary())
    click.echo("reconcile: " + sweeper.reconcile_orphans(get_redis(), settings).summary())


@click.command("purge")
@click.option("--dry-run", is_flag=True, help="Only count what would be deleted; change nothing.")
@with_appcontext
def purge_command(dry_run: bool) -> None:
    """Apply the retention settings now: delete old PDFs, finished reports and audit rows."""
    from reportsvc.ops import retention

    settings = current_app.extensions["reportsvc.settings"]
    if not settings.retention_enabled:
        click.echo("retention is off (RETENTION_PDF_DAYS, RETENTION_REPORT_DAYS and RETENTION_AUDIT_DAYS are 0): "
                   "nothing to delete")
        return
    click.echo("retention: " + retention.describe(settings))
    click.echo(retention.purge(settings, dry_run=dry_run, actor="cli").summary())


# --------------------------------------------------------------------------- accounts (issue 6)

users_group = AppGroup("users", help="Console / API accounts: create, list, disable, sign out everywhere.")
tokens_group = AppGroup("tokens", help="API bearer tokens: create (printed once), list, revoke.")


#: The audit log's actor for account changes made here: whoever runs the CLI has shell access, not an account.
CLI_ACTOR = "cli"


def _fail(message: str) -> NoReturn:
    raise click.ClickException(message)


def _audit(action: str, target: str, outcome: str, **detail: Any) -> None:
    """Record an account change in the audit log, as the console and admin API do (never a password or token)."""
    from reportsvc.state import audit

    audit.record(CLI_ACTOR, action, target, outcome, {"via": "cli", **detail})


def _refused(action: str, name: str, exc: Exception) -> NoReturn:
    """Fail with the reason; an admin guard's refusal is audited too (someone tried to lock admins out)."""
    from reportsvc.state import accounts

    if isinstance(exc, accounts.AccountConflict):
        _audit(action, f"user:{name}", "refused", reason=str(exc))
    _fail(str(exc))


@users_group.command("create")
@click.argument("name")
@click.option("--role", type=click.Choice(["viewer", "operator", "admin"]), default="viewer", show_default=True)
@click.option("--password", default=None, help="For scripts; without it you are prompted (hidden input).")
@click.option("--generate", is_flag=True, help="Generate a password and print it once.")
def users_create(name: str, role: str, password: str | None, generate: bool) -> None:
    """Create an account."""
    from reportsvc.state import accounts

    if generate:
        password = accounts.generate_password()
    elif password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        accounts.create_user(name, role, password)
    except accounts.AccountError as exc:
        _fail(str(exc))
    _audit("user.create", f"user:{name}", "ok", role=role, password="generated" if generate else "typed")
    click.echo(f"created {role} {name}")
    if generate:
        click.echo(password)


@users_group.command("list")
def users_list() -> None:
    """List accounts."""
    from reportsvc.state import accounts

    for user in accounts.list_users():
        state = "disabled" if user.disabled else "active"
        last = when_full(user.last_login_at) if user.last_login_at else "never"
        click.echo(f"{user.name:<24} {user.role:<9} {state:<9} last login: {last}")


@users_group.command("disable")
@click.argument("name")
def users_disable(name: str) -> None:
    """Disable an account: its sessions end and its tokens stop working."""
    _set_disabled(name, True)


@users_group.command("enable")
@click.argument("name")
def users_enable(name: str) -> None:
    """Re-enable a disabled account."""
    _set_disabled(name, False)


def _set_disabled(name: str, disabled: bool) -> None:
    from reportsvc.state import accounts

    action, done = ("user.disable", "disabled") if disabled else ("user.enable", "enabled")
    try:
        accounts.set_disabled(name, disabled)
    except accounts.AccountError as exc:
        _refused(action, name, exc)
    _audit(action, f"user:{name}", "ok")
    click.echo(f"{done} {name}")


@users_group.command("sign-out")
@click.argument("name")
def users_sign_out(name: str) -> None:
    """Sign an account out everywhere: every console session ends (its API tokens keep working)."""
    from reportsvc.state import accounts

    try:
        accounts.end_sessions(name)
    except accounts.AccountError as exc:
        _fail(str(exc))
    _audit("user.end_sessions", f"user:{name}", "ok")
    click.echo(f"signed {name} out everywhere")


@users_group.command("set-password")
@click.argument("name")
@click.option("--password", default=None, help="For scripts; without it you are prompted.")
def users_set_password(name: str, password: str | None) -> None:
    """Change an account's password (ends its sessions)."""
    from reportsvc.state import accounts

    if password is None:
        password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
    try:
        accounts.set_password(name, password)
    except accounts.AccountError as exc:
        _fail(str(exc))
    _audit("user.set_password", f"user:{name}", "ok", password="typed")
    click.echo(f"password changed for {name}")


@users_group.command("set-role")
@click.argument("name")
@click.argument("role", type=click.Choice(["viewer", "operator", "admin"]))
def users_set_role(name: str, role: str) -> None:
    """Change an account's role."""
    from reportsvc.state import accounts

    user = accounts.get_user(name)
    old = user.role if user is not None else None
    try:
        accounts.set_role(name, role)
    except accounts.AccountError as exc:
        _refused("user.set_role", name, exc)
    _audit("user.set_role", f"user:{name}", "ok", **{"from": old, "to": role})
    click.echo(f"{name} is now {role}")


@tokens_group.command("create")
@click.argument("name")
@click.option("--label", default=None, help="What the token is for (shown in listings).")
def tokens_create(name: str, label: str | None) -> None:
    """Create a token for account NAME; the token is the last line of output (shown only now)."""
    from reportsvc.state import accounts

    try:
        row, token = accounts.create_token(name, label)
    except accounts.AccountError as exc:
        _fail(str(exc))
    _audit("token.create", f"user:{name}", "ok", token_id=row.id, prefix=row.prefix)
    click.echo(f"token {row.id} ({row.prefix}…) for {name}; store it now, it is not shown again:")
    click.echo(token)


@tokens_group.command("list")
@click.argument("name", required=False)
def tokens_list(name: str | None) -> None:
    """List tokens (id, prefix, owner, state), optionally of one account."""
    from reportsvc.state import accounts

    for row, owner in accounts.list_tokens(name):
        state = "revoked" if row.revoked_at else "active"
        used = when_full(row.last_used_at) if row.last_used_at else "never"
        click.echo(f"{row.id:<6} {row.prefix:<13} {owner:<24} {state:<8} last used: {used}  {row.label or ''}")


@tokens_group.command("revoke")
@click.argument("token")
def tokens_revoke(token: str) -> None:
    """Revoke a token by id or prefix (as `tokens list` shows)."""
    from reportsvc.state import accounts

    try:
        row = accounts.revoke_token(token)
    except accounts.AccountError as exc:
        _fail(str(exc))
    _audit("token.revoke", f"token:{row.id}", "ok", prefix=row.prefix)
    click.echo(f"revoked token {row.id} ({row.prefix}…)")


@click.command("ensure-admin")
@with_appcontext
def ensure_admin_command() -> None:
    """On a database without accounts, create `admin` (REPORTSVC_ADMIN_PASSWORD or a generated password)."""
    from reportsvc.state import accounts

    settings = current_app.extensions["reportsvc.settings"]
    password = accounts.ensure_admin(settings.admin_password)
    if password is None:
        click.echo("accounts exist; nothing to do")
        return
    _audit("user.create", "user:admin", "ok", role="admin",
           password="from REPORTSVC_ADMIN_PASSWORD" if settings.admin_password else "generated")
    if settings.admin_password:
        click.echo("created admin account `admin` with the password from REPORTSVC_ADMIN_PASSWORD")
    else:
        click.echo("created admin account `admin`; its generated password (shown once):")
        click.echo(password)


# --------------------------------------------------------------------------- operator controls (issue 17)

reports_group = AppGroup("reports", help="Operator actions on one report: cancel.")


def _report_id(raw: str) -> Any:
    import uuid

    try:
        return uuid.UUID(raw)
    except ValueError:
        _fail(f"{raw[:64]!r} is not a valid report id (expected a UUID)")


@reports_group.command("cancel")
@click.argument("report_id")
def reports_cancel(report_id: str) -> None:
    """Cancel a PENDING report, or ask a RUNNING one to stop (its worker ends it CANCELLED). Audited."""
    from reportsvc.ops import jobs

    outcome = jobs.cancel(_report_id(report_id), actor=CLI_ACTOR, via="cli")
    if outcome.status is None:
        _fail(f"no report {report_id}")
    if not outcome.ok:
        _fail(f"report is {outcome.status}; only PENDING and RUNNING reports can be cancelled")
    click.echo(f"cancel requested for {report_id}: its worker stops at its next check" if outcome.cancel_requested
               else f"cancelled {report_id}")


queues_group = AppGroup("queues", help="Pause and resume a queue; list the paused ones; requeue dead letters.")
queues_group.add_command(requeue_dead)


def _queue_name(name: str) -> str:
    from reportsvc.web.errors import ApiError
    from reportsvc.web.queue_reads import check_queue

    try:
        return check_queue(name)
    except ApiError as exc:
        _fail(exc.message)


def _queue_switch(verb: str, done: str, unchanged: str, help_text: str) -> None:
    # Pause and resume are one command shape: the ops call named by the verb, audited as from the CLI.
    @queues_group.command(verb, help=help_text)
    @click.argument("name")
    def switch(name: str) -> None:
        from reportsvc.ops import pauses
        from reportsvc.redis_client import get_redis

        queue = _queue_name(name)
        changed = getattr(pauses, verb)(get_redis(), queue, actor=CLI_ACTOR, via="cli")
        click.echo(f"{done} {queue}" if changed else f"{queue} {unchanged}")


_queue_switch("pause", "paused", "was already paused",
              "Pause a queue: workers start none of its messages until it is resumed. Audited.")
_queue_switch("resume", "resumed", "was not paused",
              "Resume a paused queue: its waiting messages start within a few seconds. Audited.")


@queues_group.command("paused")
def queues_paused() -> None:
    """List the paused queues: since when, by whom."""
    from reportsvc.ops import pauses
    from reportsvc.redis_client import get_redis

    found = pauses.sync_mirror(get_redis())
    if not found:
        click.echo("no queue is paused")
    for pause in found.values():
        click.echo(f"{pause.queue:<24} paused since {pause.since} by {pause.by or 'unknown'}")


def init_app(app: Flask) -> None:
    """Register the project's CLI commands."""
    app.cli.add_command(scheduler_command)
    app.cli.add_command(sweep_command)
    app.cli.add_command(purge_command)
    app.cli.add_command(users_group)
    app.cli.add_command(tokens_group)
    app.cli.add_command(ensure_admin_command)
    app.cli.add_command(reports_group)
    app.cli.add_command(queues_group)
    app.cli.add_command(schedules_group)
    app.cli.add_command(storage_group)
