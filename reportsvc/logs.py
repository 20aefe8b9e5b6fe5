"""Logging: one line per event, the seed's terminal style or JSON with LOG_FORMAT=json."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from flask import Flask

TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log shippers."""

    def format(self, record: logging.LogRecord) -> str:
        """Serialize the record with its timestamp, level, logger and message."""
        payload: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload)


def configure(log_format: str = "text", level: int = logging.INFO) -> None:
    """Set up the reportsvc logger tree once per process."""
    logger = logging.getLogger("reportsvc")
    if getattr(logger, "_reportsvc_configured", False):
        return
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
    logger._reportsvc_configured = True  # type: ignore[attr-defined]


def init_app(app: Flask) -> None:
    """Configure logging from the app's settings."""
    configure(app.extensions["reportsvc.settings"].log_format)
