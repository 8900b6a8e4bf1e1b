"""A time limit on every PostgreSQL round trip, so a database that stops answering cannot hang a request.

psycopg2 has no client-side read timeout. With a wait callback installed it hands every wait on the
socket to us, and we give up after the deadline with an error that SQLAlchemy recognises as a
disconnect, so the connection is discarded rather than returned to the pool.
"""

from __future__ import annotations

import select

import psycopg2
import psycopg2.extensions as ext

_deadline_s = 30.0


def _wait(conn: ext.connection) -> None:
    fd = conn.fileno()
    while True:
        state = conn.poll()
        if state == ext.POLL_OK:
            return
        if state == ext.POLL_READ:
            ready = select.select([fd], [], [], _deadline_s)[0]
        elif state == ext.POLL_WRITE:
            ready = select.select([], [fd], [], _deadline_s)[1]
        else:
            raise psycopg2.OperationalError(f"unexpected poll state {state}")
        if not ready:
            # "could not receive data from server" is one of the messages SQLAlchemy treats as a disconnect.
            raise psycopg2.OperationalError(
                f"could not receive data from server: no answer within {_deadline_s:g} s"
            )


def install_query_deadline(seconds: float) -> None:
    """Install the deadline for this process (psycopg2's wait callback is process-wide)."""
    global _deadline_s
    _deadline_s = seconds
    ext.set_wait_callback(_wait)
