"""The access line written directly is the line `logging` writes, and `logging` is used whenever the
configuration is not the server's own."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from tracklight.logs import AccessLog, JsonFormatter, TextFormatter, request_id


@pytest.fixture
def logger() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger configured as log_config configures the server's, writing to a buffer."""
    out = io.StringIO()
    logger = logging.getLogger("tracklight-test.access")
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    token = request_id.set("0123456789abcdef0123456789abcdef")
    try:
        yield logger, out
    finally:
        request_id.reset(token)
        logger.removeHandler(handler)


def lines(out: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_the_direct_line_is_the_line_logging_writes(logger: tuple[logging.Logger, io.StringIO]) -> None:
    log, out = logger
    AccessLog(log.name)("POST", "/api/2.0/mlflow/runs/create", 200, 1.25)
    seen: list[logging.LogRecord] = []
    log.handlers[0].addFilter(lambda record: seen.append(record) or True)  # a filter: through logging
    AccessLog(log.name)("POST", "/api/2.0/mlflow/runs/create", 200, 1.25)
    direct, through_logging = lines(out)
    assert len(seen) == 1  # only the second went through logging
    assert list(direct) == list(through_logging)  # the same keys in the same order
    direct.pop("time")
    through_logging.pop("time")
    assert direct == through_logging
    assert direct["request_id"] == "0123456789abcdef0123456789abcdef" and direct["status"] == 200


@pytest.mark.parametrize("change", ["text format", "second handler", "level"])
def test_any_other_configuration_goes_through_logging(
    logger: tuple[logging.Logger, io.StringIO], change: str
) -> None:
    log, out = logger
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    keep: Keep | None = None
    if change == "text format":
        log.handlers[0].setFormatter(TextFormatter())
    elif change == "second handler":
        log.addHandler(keep := Keep())
    else:
        log.setLevel(logging.WARNING)
    try:
        AccessLog(log.name)("GET", "/health", 200, 0.1)
    finally:
        if keep is not None:
            log.removeHandler(keep)
    if change == "level":
        assert out.getvalue() == ""
    elif change == "text format":
        assert "GET /health 200 request_id=0123456789abcdef0123456789abcdef" in out.getvalue()
    else:
        assert len(records) == 1 and records[0].getMessage() == "GET /health 200"
