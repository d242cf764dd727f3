"""The worker's budget of loop time: what it meters, when it counts the loop busy."""

from __future__ import annotations

import asyncio
import time

import pytest

from fastapi_issues.webhooks._pace import Pacer

pytestmark = pytest.mark.anyio


async def blocking_steps(blocks: int, seconds: float, wait: float = 0.0) -> int:
    for _ in range(blocks):
        time.sleep(seconds)  # holds the loop, as CPU work does
        await asyncio.sleep(wait)
    return blocks


async def test_metering_charges_the_steps_not_the_waits_and_returns_the_result() -> None:
    pacer = Pacer()
    assert await pacer.metered(blocking_steps(3, 0.01, wait=0.1)) == 3
    assert 0.03 <= pacer.spent < 0.1


async def test_an_idle_loop_charges_nothing_against_the_next_turn() -> None:
    pacer = Pacer(lag=lambda: 0.0)
    await pacer.metered(blocking_steps(2, 0.01))
    assert pacer.delay() == 0.0


async def test_a_busy_loop_puts_the_next_turn_nine_times_the_steps_away() -> None:
    pacer = Pacer(share=0.1, lag=lambda: 1.0)
    began = time.perf_counter()
    await pacer.metered(blocking_steps(2, 0.01))
    # 20 ms of steps at a 10% share: the next turn at least 180 ms after they ended.
    assert pacer.delay() >= 0.18 - (time.perf_counter() - began)
    assert pacer.delay() > 0.1


async def test_the_wait_for_a_turn_ends_when_the_load_drops() -> None:
    lag = [1.0]
    pacer = Pacer(share=0.001, probe_interval=0.01, lag=lambda: lag[0])
    await pacer.metered(blocking_steps(1, 0.01))  # ten seconds of debt
    waiting = asyncio.create_task(pacer.wait_turn())
    await asyncio.sleep(0.05)
    assert not waiting.done()
    lag[0] = 0.0
    async with asyncio.timeout(2):
        await waiting


async def test_the_wait_for_a_turn_ends_when_the_worker_stops() -> None:
    pacer = Pacer(share=0.001, probe_interval=0.01, lag=lambda: 1.0)
    await pacer.metered(blocking_steps(1, 0.01))
    stopping = asyncio.Event()
    waiting = asyncio.create_task(pacer.wait_turn(stopping))
    await asyncio.sleep(0.05)
    stopping.set()
    async with asyncio.timeout(2):
        await waiting


async def test_cancelling_a_metered_coroutine_reaches_it() -> None:
    pacer = Pacer()
    cleaned: list[bool] = []

    async def forever() -> None:
        try:
            await asyncio.sleep(60)
        finally:
            cleaned.append(True)

    task = asyncio.create_task(pacer.metered(forever()))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cleaned == [True]


async def test_the_probe_finds_a_blocked_loop_busy_and_an_idle_one_not() -> None:
    pacer = Pacer(busy_lag=0.002, probe_interval=0.01, hold=0.1)
    pacer.start()
    try:
        await asyncio.sleep(0.1)
        assert not pacer.busy()

        async def requests() -> None:
            while True:
                time.sleep(0.005)  # another task's work, not the worker's
                await asyncio.sleep(0)

        flood = asyncio.create_task(requests())
        await asyncio.sleep(0.1)
        assert pacer.busy()
        flood.cancel()
        await asyncio.gather(flood, return_exceptions=True)
        await asyncio.sleep(0.3)  # past the hold
        assert not pacer.busy()
    finally:
        pacer.stop()


async def test_the_workers_own_steps_do_not_make_the_loop_busy() -> None:
    pacer = Pacer(busy_lag=0.002, probe_interval=0.01, hold=0.1)
    pacer.start()
    try:
        await asyncio.sleep(0.05)
        await pacer.metered(blocking_steps(20, 0.005))
        assert not pacer.busy()
    finally:
        pacer.stop()
