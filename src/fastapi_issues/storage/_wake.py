"""The in-process half of `EventStore.wait_for_events`, which every store shares.

A store calls `EventWake.written()` after each write that recorded events; waiters in
the same process wake at once. Stores whose data other processes also write pass their
own cheap change check (`changed`), asked every `interval` seconds: that bounds the delay
for writes made elsewhere.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

__all__ = ["EventWake"]


class EventWake:
    """Wakes every waiter of this process when a write records events."""

    def __init__(self) -> None:
        self._written = asyncio.Event()

    def written(self) -> None:
        """Wake every current waiter; later waiters wait for the next write."""
        self._written.set()
        self._written = asyncio.Event()

    async def wait(
        self,
        newest: Callable[[], int],
        after: int,
        *,
        changed: Callable[[], Awaitable[bool]] | None = None,
        interval: float = 0.05,
    ) -> None:
        """Wait until `newest()` is above `after`, a write in this process, or `changed()`
        says another process wrote (asked every `interval` seconds). Unbounded: callers
        bound it with `asyncio.timeout`."""
        if newest() > after:
            return
        written = self._written
        if changed is None:
            await written.wait()
            return
        while True:
            try:
                async with asyncio.timeout(interval):
                    await written.wait()
                return
            except TimeoutError:
                if await changed():
                    return
