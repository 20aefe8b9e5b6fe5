"""`flask --app app storage copy --to s3|local`: every stored PDF copied to the other backend (see ops/storage_copy)."""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import AppGroup

storage_group = AppGroup("storage", help="Report file storage: copy every PDF to the other backend.")


@storage_group.command("copy")
@click.option("--to", "to", type=click.Choice(["s3", "local"]), required=True, help="the backend to copy into")
@click.option("--dry-run", is_flag=True, help="count what would be copied; write nothing")
def storage_copy(to: str, dry_run: bool) -> None:
    """Copy every READY report's PDF to the other backend under the same key (resumable, idempotent).

    Then set STORAGE_BACKEND to the target and restart web and workers; until then the service serves from
    the source, so every report stays downloadable.
    """
    from reportsvc.ops import storage_copy as copying

    settings = current_app.extensions["reportsvc.settings"]
    try:
        source, target = copying.backends(settings, to)
        target.check()
    except Exception as exc:
        raise click.ClickException(str(exc)) from None
    total = copying.count()
    label = f"{'checking' if dry_run else 'copying'} {total} PDFs to {to}"
    bar = click.progressbar(length=total, label=label, file=sys.stderr)
    with bar:
        result = copying.copy_all(source, target, dry_run=dry_run, step=lambda: bar.update(1))
    click.echo(result.summary(dry_run))
    if result.missing or result.mismatched:
        for key in result.missing:
            click.echo(f"missing from the source: {key}", err=True)
        for key in result.mismatched:
            click.echo(f"checksum mismatch, not copied: {key}", err=True)
        raise SystemExit(1)
    if not dry_run:
        click.echo(f"done: set STORAGE_BACKEND={to} and restart web, workers and the scheduler")
