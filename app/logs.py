"""The server's logs: every line with the id of the request it is about, as text or as JSON.

``backprop-service serve`` hands ``config()`` to uvicorn as its logging configuration (Python's
dictConfig), in every worker. One handler writes every line to stderr: uvicorn's own, the
service's (logger "backprop_service") and, with ``--access-log``, one line per request
(logger "backprop_service.access", written by MetricsMiddleware with the request's route,
method, path, status and duration). RequestIdFilter gives each line the id of the request it was
logged in ("-" outside one: start-up, shutdown).

BACKPROP_LOG_FORMAT=text (the default):

    2026-11-30 14:02:11,532 INFO  4f1c... POST /v1/backprop 200 1.4 ms

BACKPROP_LOG_FORMAT=json, one object per line, for a log collector:

    {"time": "2026-11-30T14:02:11.532+00:00", "level": "INFO", "logger":
     "backprop_service.access", "message": "POST /v1/backprop 200 1.4 ms", "request_id":
     "4f1c...", "route": "/v1/backprop", "method": "POST", "path": "/v1/backprop",
     "status": 200, "duration_ms": 1.4}

A logged exception's traceback is the "exception" field of its object (one line still).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any, Literal

import orjson

from app import context

LogFormat = Literal["text", "json"]

ACCESS_LOGGER = "backprop_service.access"

REQUEST_FIELDS = ("route", "method", "path", "status", "duration_ms")
"""What an access line adds, as attributes of its record (``extra``)."""

TEXT_FORMAT = "%(asctime)s %(levelname)-5s %(request_id)s %(message)s"


class RequestIdFilter(logging.Filter):
    """Gives every record ``request_id``: the id of the request it was logged in, or "-"."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = context.request_id() or "-"
        return True


class JSONFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, request_id, and an access
    line's route, method, path, status and duration_ms."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        for name in REQUEST_FIELDS:
            if hasattr(record, name):
                entry[name] = getattr(record, name)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def config(log_format: LogFormat, *, access_log: bool) -> dict[str, Any]:
    """uvicorn's ``log_config``: every logger through one stderr handler in this format."""
    formatter: dict[str, Any] = (
        {"()": f"{__name__}.JSONFormatter"} if log_format == "json" else {"format": TEXT_FORMAT}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": f"{__name__}.RequestIdFilter"}},
        "formatters": {"default": formatter},
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "default",
                "filters": ["request_id"],
            }
        },
        "root": {"handlers": ["default"], "level": "WARNING"},
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": "INFO", "propagate": False},
            "uvicorn.error": {"level": "INFO"},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
            "backprop_service": {"handlers": ["default"], "level": "INFO", "propagate": False},
            ACCESS_LOGGER: {"level": "INFO" if access_log else "WARNING"},
        },
    }
