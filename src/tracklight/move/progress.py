"""Progress of a long move on stderr: a live counter per phase on a terminal, one plain line otherwise."""

from __future__ import annotations

import sys
import time
from typing import TextIO

_REDRAW_S = 0.2  # a terminal line is redrawn at most this often


class Phase:
    """One phase's counter; `advance` is cheap enough to call per batch."""

    def __init__(self, progress: Progress, name: str, total: int | None) -> None:
        self.progress, self.name, self.total = progress, name, total
        self.done = 0
        self.started = time.monotonic()
        self._drawn = 0.0

    def advance(self, n: int) -> None:
        self.done += n
        if self.progress.tty:
            now = time.monotonic()
            if now - self._drawn >= _REDRAW_S:
                self._drawn = now
                self.progress.write(f"\r{self._text()}\x1b[K")

    def _text(self) -> str:
        of = f"/{self.total:,}" if self.total is not None else ""
        return f"{self.name}: {self.done:,}{of}"

    def finish(self) -> None:
        seconds = time.monotonic() - self.started
        line = f"{self._text()} ({seconds:.1f} s)"
        self.progress.write(f"\r{line}\x1b[K\n" if self.progress.tty else f"{line}\n")


class Progress:
    def __init__(self, stream: TextIO | None = None, *, quiet: bool = False) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.quiet = quiet
        self.tty = not quiet and self.stream.isatty()

    def phase(self, name: str, total: int | None = None) -> Phase:
        return Phase(self, name, total)

    def write(self, text: str) -> None:
        if not self.quiet:
            self.stream.write(text)
            self.stream.flush()
