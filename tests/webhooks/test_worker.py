"""The delivery worker against a real receiver on 127.0.0.1, over the memory store."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from pydantic import SecretStr

from fastapi_issues import InMemoryIssueStore, IssueCreate
from fastapi_issues.schemas import DeliveryState, HookCreate
from fastapi_issues.storage.deliveries import DueDelivery
from fastapi_issues.storage.protocols import HookStore
from fastapi_issues.webhooks import DeliveryWorker, RetryPolicy, sign
from tests.webhooks.receiver import Answer, Received, Receiver, failing_first

pytestmark = pytest.mark.anyio

SECRET = "a-test-secret-of-32-characters!!"
QUICK = RetryPolicy(first_delay=0.01, factor=1.0, jitter=0.0)


async def new_issue(store: InMemoryIssueStore, n: int) -> None:
    await store.create(IssueCreate(title=f"issue {n}", description="described enough"))


async def test_every_event_arrives_signed_in_order_after_two_failures() -> None:
    with Receiver(SECRET, failing_first(2)) as receiver:
        store = InMemoryIssueStore()
        hooks = store.hooks
        hook = await hooks.create_hook(HookCreate(url=receiver.url, secret=SecretStr(SECRET)))
        for n in range(3):
            await new_issue(store, n)
        worker = DeliveryWorker(hooks, store, allow_private_targets=True, retry=QUICK)
        try:
            for _ in range(20):
                await worker.run_once()
                await asyncio.sleep(0.02)
        finally:
            await worker.aclose()
        got = receiver.snapshot()
        page = await hooks.list_deliveries(hook.id)
    assert all(r.signed for r in got)
    assert {r.hook_id for r in got} == {hook.id}
    assert [d.state for d in page.items] == [DeliveryState.delivered] * 3
    assert [d.attempts for d in page.items] == [3, 3, 3]
    # Three attempts each, and a later delivery never before an earlier one is delivered.
    oldest_first = [d.id for d in reversed(page.items)]
    assert [r.delivery for r in got] == [i for i in oldest_first for _ in range(3)]


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def hook_data(url: str, **fields: object) -> HookCreate:
    return HookCreate(url=url, secret=SecretStr(SECRET), **fields)  # type: ignore[arg-type]


def worker_for(store: InMemoryIssueStore, **options: object) -> DeliveryWorker:
    options = {"allow_private_targets": True, "retry": QUICK, **options}
    return DeliveryWorker(store.hooks, store, **options)  # type: ignore[arg-type]


async def until(check: Callable[[], Awaitable[bool]], seconds: float = 10.0) -> None:
    """Wait for `check` to hold (a deadline for liveness, not a measure of speed)."""
    async with asyncio.timeout(seconds):
        while not await check():  # noqa: ASYNC110 (it polls a store and a receiver)
            await asyncio.sleep(0.02)


async def test_a_failing_hook_holds_only_its_own_later_deliveries() -> None:
    store = InMemoryIssueStore()
    with Receiver(SECRET) as receiver:
        bad = await store.hooks.create_hook(hook_data(receiver.url))
        good = await store.hooks.create_hook(hook_data(receiver.url))
        receiver.plan = lambda got: Answer(500) if got.hook_id == bad.id else Answer()
        for n in range(3):
            await new_issue(store, n)
        worker = worker_for(store, retry=RetryPolicy(first_delay=0.01, factor=1, attempts=50))
        try:
            for _ in range(10):
                await worker.run_once()
                await asyncio.sleep(0.02)
        finally:
            await worker.aclose()
        got = receiver.snapshot()
    good_page = await store.hooks.list_deliveries(good.id)
    bad_page = await store.hooks.list_deliveries(bad.id)
    assert [d.state for d in good_page.items] == [DeliveryState.delivered] * 3
    first_bad = bad_page.items[-1]
    assert first_bad.attempts >= 5
    assert [d.attempts for d in bad_page.items[:-1]] == [0, 0]
    assert {r.delivery for r in got if r.hook_id == bad.id} == {first_bad.id}


async def test_a_delivery_is_given_up_after_the_last_attempt_and_the_next_goes() -> None:
    store = InMemoryIssueStore()
    with Receiver(SECRET, failing_first(2)) as receiver:
        hook = await store.hooks.create_hook(hook_data(receiver.url))
        await new_issue(store, 1)
        await new_issue(store, 2)
        worker = worker_for(store, retry=RetryPolicy(attempts=2, first_delay=0.01, jitter=0))
        try:
            for _ in range(8):
                await worker.run_once()
                await asyncio.sleep(0.02)
        finally:
            await worker.aclose()
    newest, oldest = (await store.hooks.list_deliveries(hook.id)).items
    assert (oldest.state, oldest.attempts, oldest.status_code) == (DeliveryState.failed, 2, 500)
    assert oldest.next_attempt_at is None
    assert (newest.state, newest.attempts) == (DeliveryState.failed, 2)


async def test_a_hook_failing_for_24_hours_is_deactivated() -> None:
    clock = FakeClock()
    store = InMemoryIssueStore(clock=clock)
    with Receiver(SECRET, lambda _: Answer(500)) as receiver:
        hook = await store.hooks.create_hook(hook_data(receiver.url))
        await new_issue(store, 1)
        worker = worker_for(
            store, clock=clock, retry=RetryPolicy(attempts=100, first_delay=60, factor=1, jitter=0)
        )
        try:
            for hours in (0, 12, 23.9):
                clock.now = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=hours)
                assert await worker.run_once() == 1
            assert (await store.hooks.get_hook(hook.id)).active
            clock.now += timedelta(hours=0.1)
            assert await worker.run_once() == 1
        finally:
            await worker.aclose()
    after = await store.hooks.get_hook(hook.id)
    assert not after.active
    assert after.failing_since == datetime(2026, 1, 1, tzinfo=UTC)
    assert len(receiver.snapshot()) == 4


async def test_a_success_in_between_keeps_the_hook_active() -> None:
    clock = FakeClock()
    store = InMemoryIssueStore(clock=clock)
    with Receiver(SECRET, failing_first(1)) as receiver:
        hook = await store.hooks.create_hook(hook_data(receiver.url))
        await new_issue(store, 1)
        worker = worker_for(store, clock=clock, retry=RetryPolicy(first_delay=60, jitter=0))
        try:
            await worker.run_once()  # fails
            clock.now += timedelta(hours=12)
            await worker.run_once()  # delivered: the failure record is cleared
            await new_issue(store, 2)
            await worker.run_once()
            receiver.plan = lambda _: Answer(500)
            await new_issue(store, 3)
            clock.now += timedelta(hours=13)
            await worker.run_once()  # 25 h after the first failure, but just failing now
        finally:
            await worker.aclose()
    assert (await store.hooks.get_hook(hook.id)).active


async def test_two_workers_on_one_store_only_one_delivers() -> None:
    store = InMemoryIssueStore()
    with Receiver(SECRET) as receiver:
        hook = await store.hooks.create_hook(hook_data(receiver.url))
        first, second = worker_for(store), worker_for(store)
        try:
            await new_issue(store, 1)
            assert await first.run_once() == 1
            await new_issue(store, 2)
            assert await second.run_once() == 0
            assert await first.run_once() == 1
        finally:
            await first.aclose()
        # The first gave the lease up on leaving: the second takes over at once.
        try:
            await new_issue(store, 3)
            assert await second.run_once() == 1
        finally:
            await second.aclose()
        got = receiver.snapshot()
    assert len(got) == 3
    assert len({r.delivery for r in got}) == 3
    assert (await store.hooks.list_deliveries(hook.id)).total == 3


async def test_two_running_workers_deliver_each_event_once() -> None:
    store = InMemoryIssueStore()
    with Receiver(SECRET) as receiver:
        hook = await store.hooks.create_hook(hook_data(receiver.url))
        async with worker_for(store) as one, worker_for(store) as two:
            for n in range(5):
                await new_issue(store, n)
            await store.hooks.queue_ping(hook.id)

            async def all_delivered() -> bool:
                return len(receiver.snapshot()) >= 6

            await until(all_delivered)
            await asyncio.sleep(0.3)
            assert one.holds_lease != two.holds_lease
        got = receiver.snapshot()
    assert len(got) == 6
    assert all(r.signed and r.attempt == 1 for r in got)


async def test_the_running_worker_wakes_for_new_events_pings_and_redeliveries() -> None:
    store = InMemoryIssueStore()
    with Receiver(SECRET) as receiver:
        hook = await store.hooks.create_hook(hook_data(receiver.url))

        def arrived(count: int) -> Callable[[], Awaitable[bool]]:
            async def check() -> bool:
                return len(receiver.snapshot()) >= count

            return check

        async with worker_for(store):
            await new_issue(store, 1)
            await until(arrived(1))
            ping = await store.hooks.queue_ping(hook.id)
            await until(arrived(2))

            async def recorded() -> bool:
                delivery = await store.hooks.get_delivery(hook.id, ping.id)
                return delivery.state is DeliveryState.delivered

            # Redelivering before the worker records the first attempt would be overtaken
            # by that record (delivered), and the redelivery never sent.
            await until(recorded)
            await store.hooks.redeliver(hook.id, ping.id)
            await until(arrived(3))
        got = receiver.snapshot()
    assert [r.event for r in got] == ["issue.created", "ping", "ping"]
    assert got[1].delivery == got[2].delivery == ping.id
    assert got[2].attempt == 2


async def test_hooks_are_called_concurrently_but_never_two_of_one_hook_at_once() -> None:
    store = InMemoryIssueStore()
    with Receiver(SECRET, lambda _: Answer(delay=0.1)) as receiver:
        hooks = [await store.hooks.create_hook(hook_data(receiver.url)) for _ in range(3)]
        for n in range(3):
            await new_issue(store, n)
        for hook in hooks:
            await store.hooks.queue_ping(hook.id)
        async with worker_for(store):

            async def all_arrived() -> bool:
                return len(receiver.snapshot()) >= 12

            await until(all_arrived)
    assert receiver.most_at_once > 1
    assert set(receiver.most_busy.values()) == {1}


async def test_a_worker_stopped_mid_attempt_leaves_the_delivery_to_be_resent_same_id() -> None:
    store = InMemoryIssueStore()
    with Receiver(SECRET) as receiver:
        receiver.plan = lambda got: Answer(delay=30) if got.attempt == 1 else Answer()
        hook = await store.hooks.create_hook(hook_data(receiver.url))
        await new_issue(store, 1)
        async with worker_for(store):

            async def in_flight() -> bool:
                return len(receiver.snapshot()) == 1

            await until(in_flight)
        [pending] = (await store.hooks.list_deliveries(hook.id)).items
        assert (pending.state, pending.attempts) == (DeliveryState.pending, 0)
        worker = worker_for(store)
        try:
            assert await worker.run_once() == 1
        finally:
            await worker.aclose()
        got = receiver.snapshot()
    assert [r.delivery for r in got] == [pending.id, pending.id]
    [done] = (await store.hooks.list_deliveries(hook.id)).items
    assert (done.state, done.attempts) == (DeliveryState.delivered, 1)


class FlakyHooks:
    """A `HookStore` whose worker-side reads fail the first few times."""

    def __init__(self, inner: HookStore, failures: int) -> None:
        self._inner = inner
        self.failures = failures

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def due_deliveries(self, *, limit: int = 100) -> Sequence[DueDelivery]:
        if self.failures > 0:
            self.failures -= 1
            raise OSError("the database went away")
        return await self._inner.due_deliveries(limit=limit)


async def test_store_and_network_errors_are_logged_never_raised_nor_the_secret(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="fastapi_issues.webhooks")
    store = InMemoryIssueStore()
    flaky = FlakyHooks(store.hooks, failures=2)
    with Receiver(SECRET, failing_first(1)) as receiver:
        hook = await store.hooks.create_hook(hook_data(receiver.url))
        await new_issue(store, 1)
        worker = DeliveryWorker(
            cast(HookStore, flaky), store, allow_private_targets=True, retry=QUICK
        )
        async with worker:

            async def delivered() -> bool:
                page = await store.hooks.list_deliveries(hook.id)
                return [d.state for d in page.items] == [DeliveryState.delivered]

            await until(delivered)
    assert flaky.failures == 0
    assert "a pass failed" in caplog.text
    assert "failed (attempt 1)" in caplog.text
    assert SECRET not in caplog.text
    assert sign(SECRET, receiver.snapshot()[0].body) not in caplog.text


async def test_a_hook_deleted_during_its_attempt_is_no_error() -> None:
    store = InMemoryIssueStore()
    with Receiver(SECRET, lambda _: Answer(delay=0.3)) as receiver:
        hook = await store.hooks.create_hook(hook_data(receiver.url))
        await new_issue(store, 1)
        worker = worker_for(store)
        try:
            attempts = asyncio.create_task(worker.run_once())

            async def in_flight() -> bool:
                return len(receiver.snapshot()) == 1

            await until(in_flight)
            await store.hooks.delete_hook(hook.id)
            assert await attempts == 1
        finally:
            await worker.aclose()


class SlowDue:
    """The memory store's hooks with a due query that answers `delay` after reading, as a
    database's round trip does, so that attempts land while a pass waits for it."""

    def __init__(self, hooks: HookStore, delay: float) -> None:
        self._hooks = hooks
        self._delay = delay

    def __getattr__(self, name: str) -> Any:
        return getattr(self._hooks, name)

    async def due_deliveries(self, *, limit: int = 100) -> Sequence[DueDelivery]:
        due = await self._hooks.due_deliveries(limit=limit)
        await asyncio.sleep(self._delay)
        return due


async def test_an_attempt_landing_during_a_pass_is_not_sent_again() -> None:
    store = InMemoryIssueStore()

    # Answers of varied lengths, so that the hooks' attempts end at different moments.
    def varied(got: Received) -> Answer:
        return Answer(delay=0.01 * (int(got.delivery[-1], 16) % 5))

    with Receiver(SECRET, varied) as receiver:
        for _ in range(3):
            await store.hooks.create_hook(hook_data(receiver.url))
        for n in range(6):
            await new_issue(store, n)
        slow = cast(HookStore, SlowDue(store.hooks, 0.03))
        async with DeliveryWorker(slow, store, allow_private_targets=True, retry=QUICK):

            async def all_arrived() -> bool:
                return len({r.delivery for r in receiver.snapshot()}) >= 18

            await until(all_arrived)
            await asyncio.sleep(0.2)
        got = receiver.snapshot()
    # The pass read a delivery as due while its attempt was in flight; it was recorded
    # before the pass dispatched, and must not be sent a second time.
    assert len(got) == 18
    assert all(r.attempt == 1 for r in got)


async def test_events_become_deliveries_a_batch_at_a_time_while_the_queue_holds_some() -> None:
    store = InMemoryIssueStore()
    with Receiver(SECRET, lambda _: Answer(delay=0.05)) as receiver:
        hook = await store.hooks.create_hook(hook_data(receiver.url))
        for n in range(30):
            await new_issue(store, n)

        def arrived(count: int) -> Callable[[], Awaitable[bool]]:
            async def check() -> bool:
                return len(receiver.snapshot()) >= count

            return check

        async with worker_for(store, enqueue_batch=10, enqueue_interval=60.0):
            await until(arrived(5))
            # The rest wait in the log, behind the hook's cursor, until the queue runs dry.
            assert (await store.hooks.list_deliveries(hook.id, limit=1)).total == 10
            await until(arrived(30))
        got = receiver.snapshot()
    assert len({r.delivery for r in got}) == 30
    assert [r.event for r in got] == ["issue.created"] * 30


class CostlyDue:
    """The memory store's hooks with a due query that holds the loop `cost` seconds (CPU
    work, as a pass's is) and notes when each pass asked."""

    def __init__(self, hooks: HookStore, cost: float) -> None:
        self._hooks = hooks
        self._cost = cost
        self.asked: list[float] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._hooks, name)

    async def due_deliveries(self, *, limit: int = 100) -> Sequence[DueDelivery]:
        self.asked.append(time.perf_counter())
        time.sleep(self._cost)
        return await self._hooks.due_deliveries(limit=limit)


async def pass_gaps(lag: float) -> list[float]:
    store = InMemoryIssueStore()
    costly = CostlyDue(store.hooks, 0.01)
    worker = DeliveryWorker(
        cast(HookStore, costly), store, poll_interval=0.02, loop_lag=lambda: lag
    )
    async with worker:
        await asyncio.sleep(0.6)
    return [b - a for a, b in itertools.pairwise(costly.asked)]


async def test_while_the_loop_lags_passes_are_nine_times_their_loop_time_apart() -> None:
    busy = await pass_gaps(lag=1.0)
    assert busy
    # 10 ms of loop time a pass at the 10% share: the next one 90 ms after it at least.
    assert min(busy) >= 0.1
    idle = await pass_gaps(lag=0.0)
    assert len(idle) > 2 * len(busy)
    assert min(idle) < 0.1


async def test_while_the_loop_lags_two_hooks_at_most_are_called_and_all_arrive_in_order() -> None:
    store = InMemoryIssueStore()
    with Receiver(SECRET, lambda _: Answer(delay=0.05)) as receiver:
        hooks = [await store.hooks.create_hook(hook_data(receiver.url)) for _ in range(4)]
        for n in range(3):
            await new_issue(store, n)
        async with worker_for(store, loop_lag=lambda: 1.0, loop_share=0.5):

            async def all_arrived() -> bool:
                return len(receiver.snapshot()) >= 12

            await until(all_arrived)
        got = receiver.snapshot()
    assert receiver.most_at_once <= 2
    for hook in hooks:
        page = await store.hooks.list_deliveries(hook.id)
        oldest_first = [d.id for d in reversed(page.items)]
        assert [r.delivery for r in got if r.hook_id == hook.id] == oldest_first


async def test_a_backlog_held_back_under_load_drains_once_the_loop_is_idle() -> None:
    store = InMemoryIssueStore()
    lag = [1.0]
    with Receiver(SECRET) as receiver:
        await store.hooks.create_hook(hook_data(receiver.url))
        for n in range(5):
            await new_issue(store, n)
        costly = cast(HookStore, CostlyDue(store.hooks, 0.01))
        # A 0.1% share: the first pass's 10 ms put the next turn 10 s away.
        async with DeliveryWorker(
            costly,
            store,
            allow_private_targets=True,
            retry=QUICK,
            loop_share=0.001,
            loop_lag=lambda: lag[0],
        ):
            await asyncio.sleep(0.3)
            assert len(receiver.snapshot()) <= 1
            lag[0] = 0.0

            async def all_arrived() -> bool:
                return len(receiver.snapshot()) >= 5

            await until(all_arrived, seconds=5.0)
        got = receiver.snapshot()
    assert [r.attempt for r in got] == [1] * 5
