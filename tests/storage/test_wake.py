"""`EventWake`: the in-process wake every store shares, and its one check at a time for
writes made by other processes."""

from __future__ import annotations

import asyncio
import threading

import pytest

from fastapi_issues.storage._wake import EventWake

pytestmark = pytest.mark.anyio


class Check:
    """A change check that says "changed" once told to, counting its calls."""

    def __init__(self) -> None:
        self.calls = 0
        self.change = False

    async def __call__(self) -> bool:
        self.calls += 1
        changed, self.change = self.change, False
        return changed


def _waiters(wake: EventWake, check: Check, count: int) -> list[asyncio.Task[None]]:
    return [
        asyncio.create_task(wake.wait(lambda: 0, 0, changed=check, interval=0.02))
        for _ in range(count)
    ]


async def test_one_write_wakes_every_waiter() -> None:
    wake = EventWake()
    waiters = [asyncio.create_task(wake.wait(lambda: 0, 0)) for _ in range(5)]
    await asyncio.sleep(0.01)
    assert not any(waiter.done() for waiter in waiters)
    wake.written()
    async with asyncio.timeout(1):
        await asyncio.gather(*waiters)


async def test_newer_events_return_at_once() -> None:
    async with asyncio.timeout(1):
        await EventWake().wait(lambda: 3, 2, changed=Check())


async def test_many_waiters_share_one_check_per_interval() -> None:
    wake, check = EventWake(), Check()
    waiters = _waiters(wake, check, 50)
    await asyncio.sleep(0.3)
    assert not any(waiter.done() for waiter in waiters)
    # About 15 in 0.3 s at 20 ms: one at a time for all fifty, not one each.
    assert 5 <= check.calls <= 25
    check.change = True
    async with asyncio.timeout(1):
        await asyncio.gather(*waiters)


async def test_when_the_checking_waiter_leaves_another_takes_over() -> None:
    wake, check = EventWake(), Check()
    [first, *rest] = _waiters(wake, check, 3)
    await asyncio.sleep(0.05)
    first.cancel()
    await asyncio.sleep(0.05)
    assert not any(waiter.done() for waiter in rest)
    calls = check.calls
    await asyncio.sleep(0.1)
    assert check.calls > calls
    check.change = True
    async with asyncio.timeout(1):
        await asyncio.gather(*rest)


async def test_a_write_made_in_another_thread_wakes_the_waiters() -> None:
    wake = EventWake()
    waiter = asyncio.create_task(wake.wait(lambda: 0, 0))
    await asyncio.sleep(0.01)
    thread = threading.Thread(target=wake.written_soon)
    thread.start()
    thread.join()
    async with asyncio.timeout(1):
        await waiter


async def test_a_write_before_anyone_waited_from_another_thread_is_nothing() -> None:
    wake = EventWake()
    wake.written_soon()  # no loop known yet: no waiter to wake
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.05):
            await wake.wait(lambda: 0, 0)


def test_a_store_outliving_its_event_loop_wakes_in_the_next() -> None:
    wake = EventWake()

    async def waited_and_left() -> None:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.01):
                await wake.wait(lambda: 0, 0, changed=Check(), interval=0.005)

    async def woken() -> None:
        waiter = asyncio.create_task(wake.wait(lambda: 0, 0))
        await asyncio.sleep(0.01)
        wake.written()
        async with asyncio.timeout(1):
            await waiter

    asyncio.run(waited_and_left())
    asyncio.run(woken())
