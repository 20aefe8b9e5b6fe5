"""The supervisor's terminal output: each process's lines prefixed with its name, colored on a terminal."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Mapping
from typing import IO

PREFIX_WIDTH = 9  # len("scheduler")

_COLORS = {
    "web": "36",  # cyan
    "worker": "35",  # magenta
    "scheduler": "33",  # yellow
    "migrate": "34",  # blue
    "devrun": "32",  # green
}


def use_color(stream: IO[str], env: Mapping[str, str]) -> bool:
    """Color when writing to a terminal, unless NO_COLOR is set; FORCE_COLOR forces it."""
    if env.get("NO_COLOR"):
        return False
    if env.get("FORCE_COLOR"):
        return True
    return hasattr(stream, "isatty") and stream.isatty()


def prefix(name: str, color: bool = False) -> str:
    """Aligned line prefix for a process: `web      | `, colored when asked."""
    text = f"{name:<{PREFIX_WIDTH}}| "
    code = _COLORS.get(name)
    if color and code:
        return f"\033[{code}m{text}\033[0m"
    return text


def format_line(name: str, line: str, color: bool = False) -> str:
    """One output line of process `name`, prefixed, without a trailing newline."""
    return prefix(name, color) + line.rstrip("\r\n")


class Console:
    """Serializes prefixed lines from the reader threads onto one stream."""

    def __init__(self, stream: IO[str] | None = None, color: bool | None = None) -> None:
        self.stream = stream if stream is not None else sys.stdout
        self.color = use_color(self.stream, os.environ) if color is None else color
        self._lock = threading.Lock()

    def line(self, name: str, text: str) -> None:
        """Print one line of process `name`."""
        with self._lock:
            self.stream.write(format_line(name, text, self.color) + "\n")
            self.stream.flush()

    def say(self, text: str) -> None:
        """Print a message of the supervisor itself."""
        self.line("devrun", text)

    def pump(self, name: str, pipe: IO[bytes]) -> threading.Thread:
        """Start a daemon thread copying `pipe` line by line to the console."""

        def run() -> None:
            with pipe:
                for raw in iter(pipe.readline, b""):
                    self.line(name, raw.decode("utf-8", errors="replace"))

        thread = threading.Thread(target=run, name=f"devrun-{name}", daemon=True)
        thread.start()
        return thread
