"""Log configuration: one line per event, as JSON objects or plain text, tagged with the request id."""

from __future__ import annotations

import contextvars
import logging
import time
from typing import Any

import orjson

# Set for the duration of a request (handlers in worker threads inherit it), so every line logged
# while serving it carries the same id as the access line and the X-Request-ID response header.
request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

# No line format here shows the source file, thread or process of a record, so a record need not look
# them up: the stack walk and getpid() of every access line are the Python docs' own logging
# optimisations ("Optimization" in the logging HOWTO), set for the server's process.
logging._srcfile = None  # type: ignore[attr-defined]
logging.logThreads = False
logging.logProcesses = False
logging.logMultiprocessing = False

# Attributes every LogRecord has; anything else was passed in `extra=` and goes into the JSON object.
# uvicorn's color_message duplicates the message with terminal escapes.
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "color_message"}


class JsonFormatter(logging.Formatter):
    """A JSON object per line: time, level, logger, message, request id and any `extra` fields."""

    # The access log formats a line per request: the date and time to the second is formatted once a second.
    _second = -1
    _stamp = ""

    def format(self, record: logging.LogRecord) -> str:
        second = int(record.created)
        if second != self._second:
            self._stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = second
        out: dict[str, Any] = {
            "time": f"{self._stamp}.{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = request_id.get()
        if rid is not None:
            out["request_id"] = rid
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(out, default=str).decode()


class TextFormatter(logging.Formatter):
    """The plain format, with the request id and `extra` fields appended as key=value."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = {k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")}
        rid = request_id.get()
        if rid is not None:
            fields = {"request_id": rid, **fields}
        return line + "".join(f" {k}={v}" for k, v in fields.items())


def log_config(fmt: str) -> dict[str, Any]:
    """A logging.dictConfig for uvicorn and our loggers, writing `fmt` lines to stderr."""
    formatter = JsonFormatter if fmt == "json" else TextFormatter
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"line": {"()": f"{formatter.__module__}.{formatter.__qualname__}"}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "line"}},
        "root": {"handlers": ["stderr"], "level": "INFO"},
        # uvicorn's own loggers would otherwise add handlers of their own and print twice.
        "loggers": {
            "uvicorn": {"handlers": [], "propagate": True},
            "uvicorn.error": {"handlers": [], "propagate": True},
            "uvicorn.access": {"handlers": [], "propagate": False},
        },
    }
