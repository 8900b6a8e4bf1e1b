"""SQLite reads run on the event loop: cut short when they would wait for a lock or run long."""

from __future__ import annotations

import contextlib
import contextvars
import sqlite3
import time
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

# How long a read may hold up the event loop before it is handed to a worker thread instead.
LOOP_READ_BUDGET_S = 0.02
# SQLite virtual machine steps between two looks at the clock (a few microseconds of work).
_STEPS = 2000
# When set, the read transactions of this context must finish by this time.monotonic() deadline.
_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar("tracklight_loop_read", default=None)


class ReadMustWait(Exception):  # noqa: N818 - a signal to the caller, not a failure
    """A read tried on the event loop would have waited for a lock or run past its budget; nothing
    was changed, and it should run again on a worker thread."""


def on_loop(fn: Callable[..., Any], *args: Any) -> Any:
    """fn(*args), whose reads are bounded as bounded() says; raises ReadMustWait when one is cut short."""
    context = contextvars.copy_context()
    context.run(_DEADLINE.set, time.monotonic() + LOOP_READ_BUDGET_S)
    return context.run(fn, *args)


@contextlib.contextmanager
def bounded(conn: Connection, busy_timeout_ms: int) -> Iterator[None]:
    """Within an on_loop call, a read on `conn` fails at once where SQLite would wait for a lock (its
    busy handler off), and stops at the deadline; either way ReadMustWait is raised. Elsewhere a
    no-op."""
    deadline = _DEADLINE.get()
    if deadline is None:
        yield
        return
    raw: Any = conn.connection.driver_connection

    def past_deadline() -> int:
        return 1 if time.monotonic() > deadline else 0  # nonzero interrupts the statement

    raw.execute("PRAGMA busy_timeout=0")
    raw.set_progress_handler(past_deadline, _STEPS)
    try:
        yield
    except (DBAPIError, sqlite3.Error) as exc:
        # Locked, interrupted, or anything else (also from a cursor read outside SQLAlchemy's
        # wrapping): a worker runs the read again and reports what it meets.
        raise ReadMustWait(str(exc)) from exc
    finally:
        raw.set_progress_handler(None, 0)
        raw.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
