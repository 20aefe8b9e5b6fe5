"""The Flask app that actors run inside (for the database session and mail)."""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

import dramatiq

from reportsvc import logs

if TYPE_CHECKING:
    from flask import Flask

_app: Flask | None = None
_factory: Callable[[], Flask] | None = None
_lock = threading.Lock()
log = logging.getLogger("reportsvc.worker")

WORKER_ID = f"{socket.gethostname()}:{os.getpid()}"


def set_app(app: Flask) -> None:
    """Use this app for actors running in this process (create_app registers itself)."""
    global _app
    _app = app


def set_factory(factory: Callable[[], Flask]) -> None:
    """How to build the app when a worker needs one and none was set (the worker entry passes create_app)."""
    global _factory
    _factory = factory


def get_app() -> Flask:
    """The process's app, built by the factory the first time a worker needs it."""
    global _app
    if _app is None:
        with _lock:
            if _app is None:
                if _factory is None:
                    raise RuntimeError("no Flask app for the actors: import reportsvc.tasks or call create_app()")
                app = _factory()
                hotpath = app.extensions["reportsvc.settings"].hotpath
                if hotpath.worker_log_queue:
                    logs.write_from_thread()
                if hotpath.worker_log_lines == "summary":
                    logs.quiet_job_steps()
                _app = app
    return _app


def worker_id() -> str:
    """host:pid of this process (pid re-read: forked worker processes differ from the parent)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def warm_up() -> None:
    """Build this process's app and open its first database connection now, before it takes messages."""
    from sqlalchemy import text

    from reportsvc.extensions import db

    with get_app().app_context():
        db.session.execute(text("SELECT 1"))
        db.session.rollback()


class AppWarmUp(dramatiq.Middleware):
    """Warms each worker process before its consumers start (Dramatiq's before_worker_boot).

    Built lazily on the first message instead, the app and the first connection cost that message
    seconds on a busy host: a retry due in 2 s ran 3.4 s late in the one process that had not yet
    handled a message. A failure here is logged, not raised, so the first message builds it as before."""

    def before_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        """Warm the app up before this worker's threads start."""
        try:
            warm_up()
        except Exception as exc:  # a database still starting: the first message retries the build
            log.warning("worker warm-up failed (the first message will build the app): %s", exc)
