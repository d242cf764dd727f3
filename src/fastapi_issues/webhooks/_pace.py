"""The delivery worker's budget of event-loop time, so that the app's requests come first.

The worker runs in the app's event loop. While that loop is busy (requests), every step of
the worker's coroutines (its passes and its attempts) is metered, and each second of it
pushes the worker's next turn `(1 - share) / share` seconds away: its share of the loop
stays about `share`. While the loop is idle nothing is charged, and it runs at full speed.

"Busy" is the loop's lag: how long one loop iteration takes besides the worker's own steps,
sampled every `probe_interval` seconds (a timer, then one `call_soon`), and counted busy
for `hold` seconds after a sample of at least `busy_lag`. An idle loop turns in
microseconds; one serving a flood of requests runs many of their callbacks an iteration.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Coroutine, Generator
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class Pacer:
    """Meters the worker's loop time and says how long it should wait before its next turn.

    `lag`, when given, replaces the built-in probe (tests): a callable returning the loop's
    current lag in seconds."""

    def __init__(
        self,
        *,
        share: float = 0.1,
        busy_lag: float = 0.001,
        probe_interval: float = 0.02,
        hold: float = 0.25,
        lag: Callable[[], float] | None = None,
    ) -> None:
        if not 0 < share <= 1:
            raise ValueError("the loop share must be in (0, 1]")
        self._factor = (1 - share) / share
        self._busy_lag = busy_lag
        self._probe_interval = probe_interval
        self._hold = hold
        self._lag = lag
        self._busy_until = float("-inf")
        self._ready_at = float("-inf")
        self.spent = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._probing = False
        self._probe_began = 0.0
        self._probe_spent = 0.0

    def busy(self) -> bool:
        """Whether the loop is lagging (then the worker keeps to its share)."""
        if self._lag is not None:
            return self._lag() >= self._busy_lag
        return time.perf_counter() < self._busy_until

    def delay(self) -> float:
        """Seconds to wait before the worker's next turn: none while the loop is idle, so a
        backlog drains at full speed once the load drops."""
        if not self.busy():
            return 0.0
        return max(self._ready_at - time.perf_counter(), 0.0)

    async def wait_turn(self, stopping: asyncio.Event | None = None) -> None:
        """Wait while the worker is over its share, looking again every `probe_interval`:
        when the load drops, the wait ends then rather than when its debt is paid."""
        while (delay := self.delay()) > 0:
            if stopping is None:
                await asyncio.sleep(min(delay, self._probe_interval))
                continue
            if stopping.is_set():
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), min(delay, self._probe_interval))

    async def metered(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await `coro`, charging the time of each of its steps to the worker."""
        return await _Metered(coro, self)

    def charge(self, seconds: float) -> None:
        self.spent += seconds
        if not self.busy():
            return
        now = time.perf_counter()
        self._ready_at = max(self._ready_at, now) + seconds * self._factor

    # -- the built-in lag probe -------------------------------------------------------

    def start(self) -> None:
        """Start sampling the running loop's lag (unless a `lag` callable was given)."""
        if self._lag is None and not self._probing:
            self._probing = True
            self._schedule()

    def stop(self) -> None:
        self._probing = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _schedule(self) -> None:
        self._timer = asyncio.get_running_loop().call_later(self._probe_interval, self._arm)

    def _arm(self) -> None:
        self._probe_began = time.perf_counter()
        self._probe_spent = self.spent
        self._timer = None
        asyncio.get_running_loop().call_soon(self._read)

    def _read(self) -> None:
        now = time.perf_counter()
        # The worker's own steps in that iteration are not lag: draining a backlog alone
        # must not make it throttle itself.
        lag = (now - self._probe_began) - (self.spent - self._probe_spent)
        if lag >= self._busy_lag:
            self._busy_until = now + self._hold
        if self._probing:
            self._schedule()


class _Metered(Generic[T]):
    """Awaits a coroutine step by step, charging each step's duration to a pacer."""

    __slots__ = ("_coro", "_pacer")

    def __init__(self, coro: Coroutine[Any, Any, T], pacer: Pacer) -> None:
        self._coro = coro
        self._pacer = pacer

    def __await__(self) -> Generator[Any, Any, T]:
        inner = self._coro.__await__()
        value: Any = None
        error: BaseException | None = None
        while True:
            began = time.perf_counter()
            try:
                step = inner.send(value) if error is None else inner.throw(error)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            finally:
                self._pacer.charge(time.perf_counter() - began)
            value, error = None, None
            try:
                value = yield step
            except GeneratorExit:
                inner.close()
                raise
            except BaseException as exc:  # cancellation included: passed on to the coroutine
                error = exc
