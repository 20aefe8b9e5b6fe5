"""Flask CLI commands (flask --app app ...)."""

from __future__ import annotations

import click
from flask import Flask, current_app


@click.command("scheduler")
def scheduler_command() -> None:
    """Run the scheduler: stall sweep, orphan reconcile, housekeeping."""
    from . import scheduler

    scheduler.run(current_app._get_current_object())  # type: ignore[attr-defined]


@click.command("sweep")
def sweep_command() -> None:
    """Run one stall sweep and one reconcile now, and print what they did."""
    from . import sweeper
    from .redis_client import get_redis

    settings = current_app.extensions["reportsvc.settings"]
    click.echo("stall sweep: " + sweeper.sweep_stalled(get_redis(), settings).summary())
    click.echo("reconcile: " + sweeper.reconcile_orphans(get_redis(), settings).summary())


def init_app(app: Flask) -> None:
    """Register the project's CLI commands."""
    app.cli.add_command(scheduler_command)
    app.cli.add_command(sweep_command)
