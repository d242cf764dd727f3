"""The in-process half of `EventStore.wait_for_events`, which every store shares.

A store calls `EventWake.written()` after each write that recorded events (from another
thread: `written_soon()`); waiters in the same process wake at once. Stores whose data
other processes also write pass their own cheap change check, `changed`: "did anything
change since you were last asked?". One waiter at a time asks it, every `interval`
seconds, for all of them; a change wakes them all. So the delay for writes made elsewhere
is bounded, and a thousand idle subscribers cost what one does: one check per interval,
no timer each. When the asking waiter leaves, the others wake to choose the next (a wake
that is not a write: they go on waiting).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

__all__ = ["EventWake"]


class EventWake:
    """Wakes every waiter of this process when a write records events."""

    def __init__(self) -> None:
        self._signal = asyncio.Event()
        self._writes = 0
        self._poller: object | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def written(self) -> None:
        """Wake every current waiter; later waiters wait for the next write."""
        self._writes += 1
        self._wake_all()

    def written_soon(self) -> None:
        """`written()`, callable from any thread: wakes the waiters of the event loop they
        wait on (nothing to do if none ever waited)."""
        loop = self._loop
        if loop is None:
            return
        try:
            loop.call_soon_threadsafe(self.written)
        except RuntimeError:  # that loop is closed: nobody waits on it any more
            self._loop = None

    def _wake_all(self) -> None:
        self._signal.set()
        self._signal = asyncio.Event()

    async def wait(
        self,
        newest: Callable[[], int],
        after: int,
        *,
        changed: Callable[[], Awaitable[bool]] | None = None,
        interval: float = 0.05,
    ) -> None:
        """Wait until `newest()` is above `after`, a write in this process, or `changed()`
        says another process wrote (asked every `interval` seconds by one of the waiters).
        Unbounded: callers bound it with `asyncio.timeout`."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            # A store may outlive its event loop (a test client's, say): start afresh in
            # this one, as an asyncio.Event serves the loop it first waited in only.
            self._loop, self._signal, self._poller = loop, asyncio.Event(), None
        if newest() > after:
            return
        writes = self._writes
        me = object()
        try:
            while self._writes == writes:
                signal = self._signal
                if changed is None or self._poller not in (None, me):
                    await signal.wait()
                    continue
                self._poller = me
                try:
                    async with asyncio.timeout(interval):
                        await signal.wait()
                except TimeoutError:
                    if await changed():
                        self.written()
        finally:
            if self._poller is me:
                self._poller = None
                self._wake_all()
