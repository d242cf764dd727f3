"""Progress of long runs (`fastapi-issues migrate`, `fastapi-issues db upgrade`): the
callback library calls take, and the reporter the command line plugs in.

A long-running call takes `progress=callback` and tells it `(what, done, total)` as it
goes: `what` names the records ("issues", "comments", "revisions"), `done` how many so far,
`total` how many in all when that is cheap to know (a SQL `COUNT`, the length of a file's
records), else `None`. Without a callback nothing is reported: library calls stay silent.

`ProgressReporter` is the callback the command line uses: on a terminal one line per kind
of record, redrawn in place; anywhere else (a log, a pipe) a plain line every few seconds
and a last line when a kind of record is done.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

__all__ = ["ProgressCallback", "ProgressReporter"]

ProgressCallback = Callable[[str, int, "int | None"], None]
"""Told `(what, done, total)` as a long run goes; `total` is `None` when unknown."""

REDRAW_EVERY = 0.1
"""Seconds between redraws of a terminal's line: faster than that nobody reads it."""

LOG_EVERY = 5.0
"""Seconds between the lines written to a log, by default."""


@dataclass
class _Phase:
    what: str
    started: float
    done: int = 0
    total: int | None = None
    shown: float = float("-inf")


class ProgressReporter:
    """A `ProgressCallback` that writes to `stream` (standard error by default).

    On a terminal (`stream.isatty()`, or `tty=True`) it redraws one line with `\\r`: what,
    done/total, percentage and rate. Otherwise it writes a plain line at most every
    `interval` seconds, and a last line with the time taken when the kind of record changes
    or `close()` is called. Call `close()` when the run ends, even after a failure.
    """

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        tty: bool | None = None,
        interval: float = LOG_EVERY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream = sys.stderr if stream is None else stream
        self._tty = _isatty(self._stream) if tty is None else tty
        self._interval = REDRAW_EVERY if self._tty else interval
        self._clock = clock
        self._phase: _Phase | None = None
        self._width = 0

    def __call__(self, what: str, done: int, total: int | None) -> None:
        now = self._clock()
        phase = self._phase
        if phase is None or phase.what != what:
            self._finish()
            phase = self._phase = _Phase(what, now)
        phase.done, phase.total = done, total
        finished = total is not None and done >= total
        if not finished and now - phase.shown < self._interval:
            return
        phase.shown = now
        if self._tty:
            self._redraw(self._describe(phase, now))
        elif not finished:
            self._write_line(self._describe(phase, now))

    def clear(self) -> None:
        """On a terminal, blank the line being redrawn, so that other output can be written
        from its start; the next call draws it again. Elsewhere, nothing."""
        if not self._tty or not self._width:
            return
        self._stream.write("\r" + " " * self._width + "\r")
        self._stream.flush()
        self._width = 0
        if self._phase is not None:
            self._phase.shown = float("-inf")

    def close(self) -> None:
        """End the current line: the last one of its kind of record."""
        self._finish()

    def _finish(self) -> None:
        phase, self._phase = self._phase, None
        if phase is None:
            return
        now = self._clock()
        line = self._describe(phase, now, final=True)
        if self._tty:
            self._redraw(line)
            self._stream.write("\n")
            self._stream.flush()
            self._width = 0
        else:
            self._write_line(line)

    def _describe(self, phase: _Phase, now: float, *, final: bool = False) -> str:
        elapsed = now - phase.started
        count = f"{phase.done:,}"
        if phase.total is not None:
            share = 100 if phase.total == 0 else min(100, phase.done * 100 // phase.total)
            count = f"{phase.done:,}/{phase.total:,} ({share}%)"
        rate = f", {phase.done / elapsed:,.0f}/s" if elapsed > 0 and phase.done else ""
        took = f" in {elapsed:.1f} s" if final else ""
        return f"{phase.what}: {count}{took}{rate}"

    def _redraw(self, line: str) -> None:
        # Spaces over whatever the longer line before left behind.
        self._stream.write("\r" + line.ljust(self._width))
        self._stream.flush()
        self._width = len(line)

    def _write_line(self, line: str) -> None:
        self._stream.write(line + "\n")
        self._stream.flush()


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no such method, or a closed stream
        return False
