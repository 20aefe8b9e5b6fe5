"""The Flask app that actors run inside (for the database session and mail)."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask

_app: Flask | None = None
_factory: Callable[[], Flask] | None = None
_lock = threading.Lock()

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
                _app = _factory()
    return _app


def worker_id() -> str:
    """host:pid of this process (pid re-read: forked worker processes differ from the parent)."""
    return f"{socket.gethostname()}:{os.getpid()}"
