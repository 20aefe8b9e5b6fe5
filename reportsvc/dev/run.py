"""Main flow of the dev supervisor behind `make run` (`python -m reportsvc.dev`).

1. Loads `.env` (real environment variables win) and checks the settings (a bad value stops it
   before anything starts, with the message naming the variable).
2. Starts embedded PostgreSQL / Valkey for whatever is not configured (data under `instance/`)
   and hands `DATABASE_URL` / `REDIS_URL` to the children.
3. Runs migrations (`flask --app app db upgrade`); on a database without accounts creates `admin`
   and prints its password once (REPORTSVC_ADMIN_PASSWORD sets it instead).
4. Runs web, worker and scheduler with prefixed, colored output; prints the console URL once the
   web answers `/healthz`. The web listens on APP_HOST (default 127.0.0.1: this machine only).
5. Restarts a worker or scheduler that dies, with backoff, and gives up after many rapid failures;
   if the web dies, stops everything and exits non-zero.
6. Ctrl+C / SIGTERM: SIGTERM to every child, SIGKILL after 10 s, stop the engines, exit 0.

The scheduler runs only if `flask --app app scheduler --help` succeeds (checked once at startup,
in parallel with migrations), so this works while that command does not exist yet.

Exit codes: 0 after Ctrl+C/SIGTERM; 1 when a setting is invalid, web died, migrations failed or a
child kept crashing; 2 when a port we need is taken by another program.

Steps 1-2 draw on `settings` (what to embed, ports, URLs) and the engines; steps 4-6 are the
`supervisor` module's loop; this module sequences them and owns the engines of the run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from reportsvc.dev.console import Console
from reportsvc.dev.engine_base import DevServerError, PortInUseError, port_is_free, port_owner
from reportsvc.dev.postgres import EmbeddedPostgres
from reportsvc.dev.seaweed import EmbeddedSeaweed
from reportsvc.dev.settings import (
    DEFAULT_APP_HOST,
    DEV_DATABASE,
    DEV_PG_PORT,
    DEV_REDIS_PORT,
    DEV_S3_PORT,
    PROJECT_ROOT,
    DevPlan,
    app_host,
    app_port,
    config_error,
    load_dotenv_file,
    local_url,
    make_plan,
    public_url,
)
from reportsvc.dev.supervisor import Child, Supervisor, run_prefixed
from reportsvc.dev.valkey import EmbeddedValkey


def flask_cmd(python: str, *args: str) -> list[str]:
    """`python -m flask --app app ARGS`."""
    return [python, "-m", "flask", "--app", "app", *args]


def child_commands(python: str, port: int, with_scheduler: bool = True,
                   host: str = DEFAULT_APP_HOST) -> dict[str, list[str]]:
    """Command lines of the supervised children, by name."""
    cmds = {
        # No reloader: a reloader forks a second server process we would not supervise.
        "web": flask_cmd(python, "run", "--host", host, "--port", str(port), "--no-reload", "--with-threads"),
        "worker": [python, "-m", "dramatiq", "reportsvc.tasks", "--processes", "1", "--threads", "8"],
    }
    if with_scheduler:
        cmds["scheduler"] = flask_cmd(python, "scheduler")
    return cmds


def migrate_cmd(python: str) -> list[str]:
    """Command that brings the database schema up to date."""
    return flask_cmd(python, "db", "upgrade")


def scheduler_check_cmd(python: str) -> list[str]:
    """Command whose exit code tells whether `flask scheduler` exists."""
    return flask_cmd(python, "scheduler", "--help")


def run_migrations(python: str, env: Mapping[str, str], console: Console) -> bool:
    """`flask --app app db upgrade`; True on success."""
    console.say("running migrations: flask --app app db upgrade")
    code = run_prefixed("migrate", migrate_cmd(python), env, console)
    if code != 0:
        console.say(f"migrations failed with exit code {code}")
    return code == 0


def ensure_admin(python: str, env: Mapping[str, str], console: Console) -> bool:
    """On an empty database create the `admin` account and print its password once (issue 6)."""
    code = run_prefixed("devrun", flask_cmd(python, "ensure-admin"), env, console)
    if code != 0:
        console.say(f"could not create the admin account (exit code {code}); create one with "
                    "`flask --app app users create NAME --role admin`")
    return code == 0


class Engines:
    """The embedded servers this run started (or adopted from an earlier run), stopped on exit."""

    def __init__(self, root: Path, console: Console) -> None:
        self.root = root
        self.console = console
        self.pg: EmbeddedPostgres | None = None
        self.valkey: EmbeddedValkey | None = None
        self.seaweed: EmbeddedSeaweed | None = None

    def start(self, plan: DevPlan, pg_port: int = DEV_PG_PORT, redis_port: int = DEV_REDIS_PORT) -> None:
        """Start what `plan` asks for; raises PortInUseError / DevServerError."""
        say = self.console.say
        if plan.embedded_db:
            pg = EmbeddedPostgres(self.root / "instance" / "postgres", pg_port, durable=True)
            self.pg = pg
            if pg.is_running():
                say(f"reusing embedded PostgreSQL left running on port {pg_port} by an earlier run")
            else:
                say(f"starting embedded PostgreSQL on 127.0.0.1:{pg_port} (data: instance/postgres)")
            pg.start()
            if pg.ensure_database(DEV_DATABASE):
                say(f"created database {DEV_DATABASE!r}")
        else:
            say("using the configured PostgreSQL (DATABASE_URL / DB_HOST)")
        if plan.embedded_redis:
            say(f"starting embedded Valkey on 127.0.0.1:{redis_port} (data: instance/valkey, AOF on)")
            # Main thread spawns it, so tying its life to ours (PDEATHSIG) is safe here.
            valkey = EmbeddedValkey(
                self.root / "instance" / "valkey", redis_port, appendonly=True, die_with_parent=True
            )
            self.valkey = valkey
            valkey.start()
        else:
            say("using the configured Redis (REDIS_URL / REDIS_HOST / REDIS_SENTINELS)")
        if plan.embedded_s3:
            bucket, key, secret = (plan.env_overrides[name] for name in
                                   ("S3_BUCKET", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"))
            say(f"starting embedded SeaweedFS S3 on 127.0.0.1:{DEV_S3_PORT} (bucket {bucket}, data: instance/seaweed)")
            seaweed = EmbeddedSeaweed(self.root / "instance" / "seaweed", bucket, s3_port=DEV_S3_PORT,
                                      access_key=key, secret_key=secret, die_with_parent=True)
            self.seaweed = seaweed
            seaweed.start()

    def stop(self) -> None:
        """Stop SeaweedFS, Valkey, then PostgreSQL; report but do not raise errors."""
        if self.seaweed is not None:
            self.console.say("stopping embedded SeaweedFS")
            try:
                self.seaweed.stop()
            except (DevServerError, OSError) as exc:
                self.console.say(f"could not stop SeaweedFS cleanly: {exc}")
            self.seaweed = None
        if self.valkey is not None:
            self.console.say("stopping embedded Valkey")
            try:
                self.valkey.stop()
            except (DevServerError, OSError) as exc:
                self.console.say(f"could not stop Valkey cleanly: {exc}")
            self.valkey = None
        if self.pg is not None:
            self.console.say("stopping embedded PostgreSQL")
            try:
                self.pg.stop("fast")
            except (DevServerError, OSError) as exc:
                self.console.say(f"could not stop PostgreSQL cleanly: {exc}")
            self.pg = None


def seed_datasets(root: Path, env: dict[str, Any], console: Console) -> None:
    """Without REPORT_DATASETS_FILE: use instance/datasets.toml, copied from examples/datasets.toml the first time."""
    if env.get("REPORT_DATASETS_FILE"):
        return
    target = root / "instance" / "datasets.toml"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text((root / "examples" / "datasets.toml").read_text(encoding="utf-8"), encoding="utf-8")
        console.say(f"sample datasets copied to {target.relative_to(root)} (the table report's; edit freely)")
    env["REPORT_DATASETS_FILE"] = str(target)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `python -m reportsvc.dev`; returns the exit code."""
    del argv  # no options yet; configuration comes from the environment
    root = PROJECT_ROOT
    load_dotenv_file(root / ".env")
    console = Console()
    python = sys.executable
    plan = make_plan(os.environ)
    env: dict[str, Any] = {**os.environ, **plan.env_overrides, "PYTHONUNBUFFERED": "1"}
    seed_datasets(root, env, console)
    problem = config_error(env)
    if problem:  # before any engine starts: every child would refuse these settings anyway
        for line in problem.splitlines():
            console.say(f"error: configuration error: {line}")
        return 1
    port = app_port(os.environ)
    host = app_host(os.environ)

    supervisor: Supervisor | None = None

    def on_signal(signum: int, frame: object) -> None:
        if supervisor is not None:
            supervisor.request_stop()
        else:
            # Still starting up: unwind through the finally below, which stops the engines.
            raise KeyboardInterrupt

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    engines = Engines(root, console)
    try:
        # port_is_free binds IPv4 only; for an IPv6 APP_HOST the web's own bind error reports a clash.
        if ":" not in host and not port_is_free(port, host):
            owner = port_owner(port)
            console.say(f"error: {host}:{port} (APP_HOST:APP_PORT) is already in use{f' by {owner}' if owner else ''}")
            return 2
        try:
            engines.start(plan)
        except PortInUseError as exc:
            what = "DATABASE_URL" if engines.valkey is None else "REDIS_URL"
            console.say(f"error: {exc}; stop that program, or set {what} to use it as an external server")
            return 2
        except DevServerError as exc:
            console.say(f"error: could not start an embedded server: {exc}")
            return 1

        check = subprocess.Popen(scheduler_check_cmd(python), env=env, cwd=root, stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        migrated = run_migrations(python, env, console)
        with_scheduler = check.wait() == 0
        if not migrated:
            return 1
        ensure_admin(python, env, console)
        if not with_scheduler:
            console.say("`flask --app app scheduler` is not available; running without the scheduler")

        children = [
            Child(name, cmd, restart=(name != "web"))
            for name, cmd in child_commands(python, port, with_scheduler, host).items()
        ]
        supervisor = Supervisor(
            children,
            env,
            console,
            health_url=local_url(host, port, "/healthz"),
            public_url=public_url(host, port),
        )
        code = supervisor.run()
        return code
    except KeyboardInterrupt:
        console.say("interrupted during startup")
        if supervisor is not None:
            supervisor.shutdown()
        return 0
    finally:
        # Ignore further signals while the engines stop; a half-stopped Postgres helps nobody.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        engines.stop()
        console.say("bye")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
