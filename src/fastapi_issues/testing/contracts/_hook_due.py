"""The half of the `HookStore` contract about what is due: the per-hook order, pings and
redeliveries; and what both halves share (see `_hooks.HookStoreContract`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest

from fastapi_issues.schemas import (
    ALL_EVENTS,
    PING,
    DeliveryOut,
    DeliveryState,
    EventOut,
    HookCreate,
    HookOut,
    HookUpdate,
    IssueStatus,
    IssueUpdate,
)
from fastapi_issues.storage.deliveries import (
    AttemptResult,
    DueDelivery,
    ping_body,
)
from fastapi_issues.storage.errors import DeliveryNotFound
from fastapi_issues.storage.query import EventQuery
from fastapi_issues.testing._clock import ManualClock
from fastapi_issues.testing.contracts._base import StoreContract, draft

__all__ = [
    "CLOSED",
    "CREATED",
    "MINUTE",
    "SECRET",
    "URL",
    "HookDueContract",
    "attempt",
    "ids",
    "new_hook",
]

SECRET = "a-hook-secret-0123456789abcdef"
URL = "https://hooks.example.com/issues"
MINUTE = timedelta(minutes=1)
CREATED, CLOSED = "issue.created", "issue.closed"


def new_hook(
    events: Sequence[str] = (ALL_EVENTS,), *, active: bool = True, url: str = URL
) -> HookCreate:
    """The create request of a hook, with defaults for whatever a test does not care about."""
    return HookCreate.model_validate(
        {"url": url, "secret": SECRET, "events": list(events), "active": active}
    )


def attempt(
    clock: ManualClock,
    *,
    ok: bool,
    retry_in: timedelta | None = None,
    status: int | None = 200,
    response: str = "fine",
) -> AttemptResult:
    """An attempt made now, retried `retry_in` from now when not ok (None: given up)."""
    retry_at = None if retry_in is None else clock() + retry_in
    return AttemptResult(
        at=clock(),
        ok=ok,
        status_code=status,
        duration_ms=12.5,
        response=response,
        retry_at=retry_at,
    )


def ids(items: Sequence[DueDelivery] | Sequence[DeliveryOut]) -> list[str]:
    return [item.id for item in items]


class HookDueContract(StoreContract):
    """What is due when: the per-hook order, pings, redeliveries. Part of
    `HookStoreContract`, which says how to use it."""

    @pytest.fixture
    def clock(self) -> ManualClock:
        return ManualClock()

    # -- helpers -------------------------------------------------------------------------

    async def issue_event(self, store: Any) -> EventOut:
        """Create an issue; return the `issue.created` event it made."""
        await store.create(draft())
        [event] = await store.list_events(EventQuery(after=await store.last_event_id() - 1))
        return event  # type: ignore[no-any-return]

    async def close_event(self, store: Any) -> EventOut:
        """Create an issue and close it; return the `issue.closed` event."""
        issue = await store.create(draft())
        seen = await store.last_event_id()
        await store.update(issue.id, IssueUpdate(status=IssueStatus.closed))
        [event] = await store.list_events(EventQuery(after=seen))
        return event  # type: ignore[no-any-return]

    async def queued(self, store: Any, hook: HookOut, count: int) -> list[DeliveryOut]:
        """Make `count` issues and enqueue them: the hook's deliveries, oldest first."""
        for _ in range(count):
            await store.create(draft())
        await store.hooks.enqueue_deliveries()
        page = await store.hooks.list_deliveries(hook.id, limit=100)
        return list(reversed(page.items))

    # -- what is due ---------------------------------------------------------------------

    async def test_per_hook_only_the_oldest_pending_delivery_is_due(self, store: Any) -> None:
        hook = await store.hooks.create_hook(new_hook())
        first, second = await self.queued(store, hook, 2)
        assert ids(await store.hooks.due_deliveries()) == [first.id]
        assert first.event_id is not None
        assert second.event_id is not None
        assert first.event_id < second.event_id

    async def test_a_waiting_delivery_holds_its_hooks_later_ones_not_other_hooks(
        self, store: Any, clock: ManualClock
    ) -> None:
        hook = await store.hooks.create_hook(new_hook())
        other = await store.hooks.create_hook(new_hook([CREATED]))
        await self.issue_event(store)
        await self.issue_event(store)
        await store.hooks.enqueue_deliveries()
        mine = list(reversed((await store.hooks.list_deliveries(hook.id)).items))
        theirs = list(reversed((await store.hooks.list_deliveries(other.id)).items))
        await store.hooks.record_attempt(mine[0].id, attempt(clock, ok=False, retry_in=MINUTE))
        assert ids(await store.hooks.due_deliveries()) == [theirs[0].id]
        clock.advance(MINUTE - timedelta(seconds=1))
        assert ids(await store.hooks.due_deliveries()) == [theirs[0].id]
        clock.advance(timedelta(seconds=1))
        due = await store.hooks.due_deliveries()
        assert sorted(ids(due)) == sorted([mine[0].id, theirs[0].id])
        assert mine[1].id not in ids(due)

    async def test_due_in_the_order_they_fell_due(self, store: Any, clock: ManualClock) -> None:
        late = await store.hooks.create_hook(new_hook())
        early = await store.hooks.create_hook(new_hook())
        await self.issue_event(store)
        await store.hooks.enqueue_deliveries()
        [of_late] = (await store.hooks.list_deliveries(late.id)).items
        [of_early] = (await store.hooks.list_deliveries(early.id)).items
        await store.hooks.record_attempt(of_late.id, attempt(clock, ok=False, retry_in=2 * MINUTE))
        await store.hooks.record_attempt(of_early.id, attempt(clock, ok=False, retry_in=MINUTE))
        clock.advance(3 * MINUTE)
        assert ids(await store.hooks.due_deliveries()) == [of_early.id, of_late.id]
        assert ids(await store.hooks.due_deliveries(limit=1)) == [of_early.id]

    async def test_a_failed_delivery_releases_the_queue(
        self, store: Any, clock: ManualClock
    ) -> None:
        hook = await store.hooks.create_hook(new_hook())
        first, second, third = await self.queued(store, hook, 3)
        await store.hooks.record_attempt(first.id, attempt(clock, ok=False, retry_in=MINUTE))
        assert ids(await store.hooks.due_deliveries()) == []
        clock.advance(MINUTE)
        assert ids(await store.hooks.due_deliveries()) == [first.id]
        await store.hooks.record_attempt(first.id, attempt(clock, ok=False, status=500))
        assert ids(await store.hooks.due_deliveries()) == [second.id]
        await store.hooks.record_attempt(second.id, attempt(clock, ok=True))
        assert ids(await store.hooks.due_deliveries()) == [third.id]
        await store.hooks.record_attempt(third.id, attempt(clock, ok=True))
        assert ids(await store.hooks.due_deliveries()) == []

    async def test_inactive_hooks_deliveries_wait(self, store: Any, clock: ManualClock) -> None:
        hook = await store.hooks.create_hook(new_hook())
        [delivery] = await self.queued(store, hook, 1)
        await store.hooks.update_hook(hook.id, HookUpdate(active=False))
        assert ids(await store.hooks.due_deliveries()) == []
        await store.hooks.update_hook(hook.id, HookUpdate(active=True))
        assert ids(await store.hooks.due_deliveries()) == [delivery.id]

    # -- pings and redeliveries ----------------------------------------------------------

    async def test_a_ping(self, store: Any, clock: ManualClock) -> None:
        hook = await store.hooks.create_hook(new_hook())
        ping = await store.hooks.queue_ping(hook.id)
        assert (ping.hook_id, ping.event, ping.event_id) == (hook.id, PING, None)
        assert (ping.state, ping.attempts, ping.created_at) == (
            DeliveryState.pending,
            0,
            clock(),
        )
        assert ping.next_attempt_at == clock()
        [due] = await store.hooks.due_deliveries()
        assert (due.id, due.event, due.event_id) == (ping.id, PING, None)
        assert due.body == ping_body(hook)
        assert await store.hooks.get_delivery(hook.id, ping.id) == ping
        assert await store.hooks.enqueue_deliveries() == 0

    async def test_a_ping_goes_at_once_even_behind_a_waiting_delivery(
        self, store: Any, clock: ManualClock
    ) -> None:
        hook = await store.hooks.create_hook(new_hook())
        first, _second = await self.queued(store, hook, 2)
        await store.hooks.record_attempt(first.id, attempt(clock, ok=False, retry_in=MINUTE))
        ping = await store.hooks.queue_ping(hook.id)
        assert ids(await store.hooks.due_deliveries()) == [ping.id]

    async def test_an_inactive_hook_is_pinged(self, store: Any, clock: ManualClock) -> None:
        hook = await store.hooks.create_hook(new_hook(active=False))
        ping = await store.hooks.queue_ping(hook.id)
        assert ids(await store.hooks.due_deliveries()) == [ping.id]
        await store.hooks.record_attempt(ping.id, attempt(clock, ok=False, retry_in=MINUTE))
        assert ids(await store.hooks.due_deliveries()) == []
        clock.advance(MINUTE)
        assert ids(await store.hooks.due_deliveries()) == [ping.id]

    async def test_redeliver_keeps_the_delivery_and_goes_at_once(
        self, store: Any, clock: ManualClock
    ) -> None:
        hook = await store.hooks.create_hook(new_hook())
        first, second, third = await self.queued(store, hook, 3)
        [due_first] = await store.hooks.due_deliveries()
        await store.hooks.record_attempt(first.id, attempt(clock, ok=True))
        await store.hooks.record_attempt(second.id, attempt(clock, ok=False, retry_in=MINUTE))
        clock.advance(timedelta(seconds=5))
        again = await store.hooks.redeliver(hook.id, first.id)
        assert (again.id, again.event_id, again.attempts) == (first.id, first.event_id, 1)
        assert (again.state, again.next_attempt_at) == (DeliveryState.pending, clock())
        assert await store.hooks.get_delivery(hook.id, first.id) == again
        # Outside the queue: due although the hook's oldest pending one waits.
        [due] = await store.hooks.due_deliveries()
        assert (due.id, due.body, due.attempts) == (first.id, due_first.body, 1)
        assert third.id not in ids(await store.hooks.due_deliveries())

    async def test_redelivering_a_waiting_delivery_makes_it_due_now(
        self, store: Any, clock: ManualClock
    ) -> None:
        hook = await store.hooks.create_hook(new_hook())
        first, _second = await self.queued(store, hook, 2)
        await store.hooks.record_attempt(first.id, attempt(clock, ok=False, retry_in=MINUTE))
        again = await store.hooks.redeliver(hook.id, first.id)
        assert (again.state, again.attempts, again.next_attempt_at) == (
            DeliveryState.pending,
            1,
            clock(),
        )
        assert ids(await store.hooks.due_deliveries()) == [first.id]

    async def test_redelivering_a_failed_one(self, store: Any, clock: ManualClock) -> None:
        hook = await store.hooks.create_hook(new_hook())
        first, second = await self.queued(store, hook, 2)
        await store.hooks.record_attempt(first.id, attempt(clock, ok=False))
        await store.hooks.record_attempt(second.id, attempt(clock, ok=False, retry_in=MINUTE))
        again = await store.hooks.redeliver(hook.id, first.id)
        assert (again.state, again.attempts) == (DeliveryState.pending, 1)
        assert ids(await store.hooks.due_deliveries()) == [first.id]

    async def test_a_redelivery_or_ping_waiting_for_its_retry_holds_nothing(
        self, store: Any, clock: ManualClock
    ) -> None:
        hook = await store.hooks.create_hook(new_hook())
        first, second = await self.queued(store, hook, 2)
        for delivery in (first, second):
            await store.hooks.record_attempt(delivery.id, attempt(clock, ok=True))
        await store.hooks.redeliver(hook.id, first.id)
        await store.hooks.record_attempt(first.id, attempt(clock, ok=False, retry_in=MINUTE))
        ping = await store.hooks.queue_ping(hook.id)
        await store.hooks.record_attempt(ping.id, attempt(clock, ok=False, retry_in=MINUTE))
        # The oldest one pending waits, but outside the queue: the next ones go.
        await store.hooks.redeliver(hook.id, second.id)
        [third] = (await self.queued(store, hook, 1))[-1:]
        assert sorted(ids(await store.hooks.due_deliveries())) == sorted([second.id, third.id])

    async def test_an_inactive_hooks_redelivery_waits(self, store: Any, clock: ManualClock) -> None:
        hook = await store.hooks.create_hook(new_hook())
        [delivery] = await self.queued(store, hook, 1)
        await store.hooks.record_attempt(delivery.id, attempt(clock, ok=True))
        await store.hooks.update_hook(hook.id, HookUpdate(active=False))
        await store.hooks.redeliver(hook.id, delivery.id)
        assert ids(await store.hooks.due_deliveries()) == []
        await store.hooks.update_hook(hook.id, HookUpdate(active=True))
        assert ids(await store.hooks.due_deliveries()) == [delivery.id]

    async def test_another_hooks_delivery_is_not_found(self, store: Any) -> None:
        hook = await store.hooks.create_hook(new_hook())
        other = await store.hooks.create_hook(new_hook())
        [delivery] = await self.queued(store, hook, 1)
        with pytest.raises(DeliveryNotFound):
            await store.hooks.get_delivery(other.id, delivery.id)
        with pytest.raises(DeliveryNotFound):
            await store.hooks.redeliver(other.id, delivery.id)
        with pytest.raises(DeliveryNotFound):
            await store.hooks.get_delivery(hook.id, "missing")
        with pytest.raises(DeliveryNotFound):
            await store.hooks.redeliver(hook.id, "missing")
