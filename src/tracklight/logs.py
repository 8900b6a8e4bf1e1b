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

ACCESS_LOGGER = "tracklight.access"

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
        out = self._head(record.created, record.levelname, record.name, record.getMessage())
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(out, default=str).decode()

    def access_line(self, logger: str, method: str, path: str, status: int, duration_ms: float) -> str:
        """What format() makes of the access log's record for one request (see AccessLog)."""
        out = self._head(time.time(), "INFO", logger, f"{method} {path} {status}")
        out["method"], out["path"], out["status"], out["duration_ms"] = method, path, status, duration_ms
        return orjson.dumps(out).decode()

    def _head(self, created: float, level: str, logger: str, message: str) -> dict[str, Any]:
        """A line's first fields: time (as LogRecord.msecs truncates it), level, logger, message, request id."""
        second = int(created)
        if second != self._second:
            self._stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = second
        out: dict[str, Any] = {
            "time": f"{self._stamp}.{int((created - second) * 1000):03d}Z",
            "level": level,
            "logger": logger,
            "message": message,
        }
        rid = request_id.get()
        if rid is not None:
            out["request_id"] = rid
        return out


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


class AccessLog:
    """The line logged per request, on the `tracklight.access` logger.

    Under log_config's own JSON configuration (one stream handler with our formatter, no filters,
    which is what the server runs with) the line is formatted and written here, without a LogRecord
    or the handler chain: the same line for a fifth of the work, which was a tenth of a run create's
    CPU. Under any other configuration it goes through `logging` like every other line. Which of the
    two is decided at the first request, after the server has configured logging.
    """

    def __init__(self, logger: str = ACCESS_LOGGER) -> None:
        self._logger = logging.getLogger(logger)
        self._direct: tuple[logging.StreamHandler[Any], JsonFormatter] | None = None
        self._decided = False

    def __call__(self, method: str, path: str, status: int, duration_ms: float) -> None:
        if not self._decided:
            self._direct = self._only_json_handler()
            self._decided = True
        if self._direct is None:
            extra = {"method": method, "path": path, "status": status, "duration_ms": duration_ms}
            self._logger.info("%s %s %d", method, path, status, extra=extra)
            return
        handler, formatter = self._direct
        line = formatter.access_line(self._logger.name, method, path, status, duration_ms)
        line += handler.terminator
        with handler.lock:  # type: ignore[union-attr]
            try:
                handler.stream.write(line)
                handler.stream.flush()
            except (OSError, ValueError):
                pass  # as logging does when stderr is gone: the request is not failed for its log line

    def _only_json_handler(self) -> tuple[logging.StreamHandler[Any], JsonFormatter] | None:
        logger: logging.Logger | None = self._logger
        if not self._logger.isEnabledFor(logging.INFO) or self._logger.filters:
            return None
        handlers: list[logging.Handler] = []
        while logger is not None:
            handlers += logger.handlers
            logger = logger.parent if logger.propagate else None
        if len(handlers) != 1:
            return None
        handler = handlers[0]
        if type(handler) is not logging.StreamHandler or handler.filters or handler.level > logging.INFO:
            return None
        formatter = handler.formatter
        return (handler, formatter) if type(formatter) is JsonFormatter else None
