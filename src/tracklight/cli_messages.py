"""How every `tracklight` command reports a failure: one plain line on stderr and exit status 2."""

from __future__ import annotations

import sys


def fail(message: str) -> int:
    """Print `tracklight: error: MESSAGE` to stderr; return the exit status for a refused command."""
    print(f"tracklight: error: {message}", file=sys.stderr)
    return 2


def first_line(exc: object) -> str:
    """The first line of an exception's text (drivers append SQL and hints), or its type's name."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
