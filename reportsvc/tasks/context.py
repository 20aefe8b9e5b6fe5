"""The Flask app that actors run inside (for the database session and mail)."""

from __future__ import annotations

import os
import socket
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask

_app: Flask | None = None
_lock = threading.Lock()

WORKER_ID = f"{socket.gethostname()}:{os.getpid()}"


def set_app(app: Flask) -> None:
    """Use this app for actors running in this process (create_app registers itself)."""
    global _app
    _app = app


def get_app() -> Flask:
    """The process's app, created from the environment the first time a worker needs it."""
    global _app
    if _app is None:
        with _lock:
            if _app is None:
                from .. import create_app

                _app = create_app()
    return _app


def worker_id() -> str:
    """host:pid of this process (pid re-read: forked worker processes differ from the parent)."""
    return f"{socket.gethostname()}:{os.getpid()}"
