"""Where stores get the time from.

Every store takes a `clock` argument, so that tests can make several issues share one
timestamp (and so test the tie-break of every sort) or put a filter's cut point exactly on a
stored time. A clock is read once per write, and every time a write records (created,
updated, closed) is that one reading.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

__all__ = ["Clock", "system_clock"]

Clock = Callable[[], datetime]
"""A function returning the current time as an aware UTC `datetime`."""


def system_clock() -> datetime:
    """The machine's time, in UTC."""
    return datetime.now(UTC)
