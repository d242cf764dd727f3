"""The contract of a `HookStore`: webhooks, their deliveries, the per-hook order, the lease."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fastapi_issues.schemas import ALL_EVENTS, DeliveryState, HookUpdate
from fastapi_issues.storage.deliveries import FINISHED_KEPT, RESPONSE_SNIPPET, event_body
from fastapi_issues.storage.errors import DeliveryNotFound, HookNotFound
from fastapi_issues.storage.protocols import HookStore
from fastapi_issues.testing._clock import ManualClock
from fastapi_issues.testing.contracts._base import draft
from fastapi_issues.testing.contracts._hook_due import (
    CLOSED,
    CREATED,
    MINUTE,
    SECRET,
    URL,
    HookDueContract,
    attempt,
    ids,
    new_hook,
)

__all__ = ["HookStoreContract"]


class HookStoreContract(HookDueContract):
    """Contract tests for the `HookStore` a store exposes as `store.hooks`, the store being an
    `EventStore` and `TrackerStore` (its writes make the events hooks deliver).

    Override the `store` fixture with one that takes the `clock` fixture (a `ManualClock`,
    which moves only when a test moves it) and yields a fresh, empty store whose writes and
    whose `due_deliveries` read the time from it::

        class TestMyHooks(HookStoreContract):
            @pytest.fixture
            def store(self, clock):
                return MyStore(clock=clock)
    """

    # -- hooks ---------------------------------------------------------------------------

    async def test_store_has_a_hook_store(self, store: Any) -> None:
        assert isinstance(store.hooks, HookStore)

    async def test_create_shows_the_hook_but_never_its_secret(
        self, store: Any, clock: ManualClock
    ) -> None:
        hook = await store.hooks.create_hook(new_hook([CREATED, CLOSED], active=False))
        assert (hook.url, hook.events, hook.active) == (URL, [CREATED, CLOSED], False)
        assert hook.created_at == hook.updated_at == clock()
        assert hook.failing_since is None
        for shown in (
            repr(hook),
            str(hook),
            hook.model_dump_json(),
            repr(hook.model_dump()),
            repr(store.hooks),
        ):
            assert SECRET not in shown
        assert await store.hooks.get_hook(hook.id) == hook

    async def test_the_secret_leaves_the_store_only_in_a_due_delivery(self, store: Any) -> None:
        hook = await store.hooks.create_hook(new_hook())
        ping = await store.hooks.queue_ping(hook.id)
        [due] = await store.hooks.due_deliveries()
        assert (due.id, due.secret, due.url) == (ping.id, SECRET, URL)
        assert SECRET not in repr(due)
        assert SECRET not in ping.model_dump_json()
        page = await store.hooks.list_hooks()
        assert SECRET not in repr(page)

    async def test_missing_hooks(self, store: Any) -> None:
        for call in (
            store.hooks.get_hook("missing"),
            store.hooks.update_hook("missing", HookUpdate(active=False)),
            store.hooks.delete_hook("missing"),
            store.hooks.list_deliveries("missing"),
            store.hooks.get_delivery("missing", "missing"),
            store.hooks.queue_ping("missing"),
            store.hooks.redeliver("missing", "missing"),
        ):
            with pytest.raises(HookNotFound):
                await call

    async def test_list_pages_oldest_first(self, store: Any, clock: ManualClock) -> None:
        # Made at one time: the order is the order they were made in, not their ids'.
        hooks = [await store.hooks.create_hook(new_hook(url=f"{URL}/{n}")) for n in range(5)]
        whole = await store.hooks.list_hooks()
        assert (list(whole.items), whole.total) == (hooks, 5)
        page = await store.hooks.list_hooks(offset=1, limit=2)
        assert (list(page.items), page.total) == (hooks[1:3], 5)
        past = await store.hooks.list_hooks(offset=5)
        assert (list(past.items), past.total) == ([], 5)
        assert (await store.hooks.list_hooks()).total == 5
        empty = await store.hooks.list_hooks(limit=0)
        assert (list(empty.items), empty.total) == ([], 5)

    async def test_update_changes_each_field_sent(self, store: Any, clock: ManualClock) -> None:
        hook = await store.hooks.create_hook(new_hook())
        clock.advance(MINUTE)
        moved = await store.hooks.update_hook(hook.id, HookUpdate(url=f"{URL}/new"))
        assert (moved.url, moved.events, moved.active) == (f"{URL}/new", [ALL_EVENTS], True)
        assert (moved.created_at, moved.updated_at) == (hook.created_at, clock())
        narrowed = await store.hooks.update_hook(hook.id, HookUpdate(events=[CLOSED]))
        assert (narrowed.url, narrowed.events) == (f"{URL}/new", [CLOSED])
        stopped = await store.hooks.update_hook(hook.id, HookUpdate(active=False))
        assert (stopped.events, stopped.active) == ([CLOSED], False)
        assert await store.hooks.get_hook(hook.id) == stopped

    async def test_a_new_secret_signs_the_next_deliveries(self, store: Any) -> None:
        hook = await store.hooks.create_hook(new_hook())
        other = "another-secret-of-this-hook-42"
        changed = await store.hooks.update_hook(
            hook.id, HookUpdate.model_validate({"secret": other})
        )
        assert other not in changed.model_dump_json()
        await store.hooks.queue_ping(hook.id)
        [due] = await store.hooks.due_deliveries()
        assert due.secret == other

    async def test_delete_takes_the_deliveries_with_it(
        self, store: Any, clock: ManualClock
    ) -> None:
        hook = await store.hooks.create_hook(new_hook())
        kept = await store.hooks.create_hook(new_hook())
        [delivery] = await self.queued(store, hook, 1)
        await store.hooks.delete_hook(hook.id)
        with pytest.raises(HookNotFound):
            await store.hooks.get_hook(hook.id)
        with pytest.raises(HookNotFound):
            await store.hooks.delete_hook(hook.id)
        with pytest.raises(HookNotFound):
            await store.hooks.get_delivery(hook.id, delivery.id)
        with pytest.raises(DeliveryNotFound):
            await store.hooks.record_attempt(delivery.id, attempt(clock, ok=True))
        due = await store.hooks.due_deliveries()
        assert [d.hook_id for d in due] == [kept.id]
        assert list((await store.hooks.list_hooks()).items) == [kept]

    # -- the bounded history ------------------------------------------------------------

    async def test_finished_deliveries_past_the_cap_go_oldest_first(
        self, store: Any, clock: ManualClock
    ) -> None:
        """With the default cap (`FINISHED_KEPT`): finishing one past it drops the oldest
        finished, by creation rather than by when they finished; pending ones (never
        attempted, retried, redelivered) stay; pings count; other hooks keep theirs."""
        hook = await store.hooks.create_hook(new_hook())
        other = await store.hooks.create_hook(new_hook())
        waiting = await store.hooks.queue_ping(hook.id)  # the oldest, pending throughout
        for _ in range(FINISHED_KEPT + 2):
            await store.create(draft())
        assert await store.hooks.enqueue_deliveries() == 2 * (FINISHED_KEPT + 2)
        mine = await store.hooks.list_deliveries(hook.id, limit=1000)
        queue = [d.id for d in reversed(mine.items) if d.event_id is not None]
        for n, delivery_id in enumerate(queue[:FINISHED_KEPT]):
            given_up = n % 3 == 0  # failed ones are finished too
            await store.hooks.record_attempt(delivery_id, attempt(clock, ok=not given_up))
        assert (await store.hooks.list_deliveries(hook.id)).total == FINISHED_KEPT + 3

        await store.hooks.redeliver(hook.id, queue[0])  # pending again, so kept
        retried = attempt(clock, ok=False, retry_in=MINUTE)
        await store.hooks.record_attempt(queue[FINISHED_KEPT], retried)
        await store.hooks.record_attempt(queue[FINISHED_KEPT], attempt(clock, ok=True))
        assert (await store.hooks.list_deliveries(hook.id)).total == FINISHED_KEPT + 3
        await store.hooks.record_attempt(queue[FINISHED_KEPT + 1], attempt(clock, ok=True))
        # The redelivered one, finished again, is the oldest finished: it goes itself.
        await store.hooks.record_attempt(queue[0], attempt(clock, ok=True))
        ping = await store.hooks.queue_ping(hook.id)
        await store.hooks.record_attempt(ping.id, attempt(clock, ok=True))

        kept = [ping.id, *reversed(queue[3:]), waiting.id]  # newest first
        whole = await store.hooks.list_deliveries(hook.id, limit=1000)
        assert (ids(whole.items), whole.total) == (kept, FINISHED_KEPT + 1)
        page = await store.hooks.list_deliveries(hook.id, offset=FINISHED_KEPT - 1, limit=5)
        assert (ids(page.items), page.total) == (kept[-2:], FINISHED_KEPT + 1)
        assert (await store.hooks.get_delivery(hook.id, waiting.id)).attempts == 0
        for dropped in queue[:3]:
            with pytest.raises(DeliveryNotFound):
                await store.hooks.get_delivery(hook.id, dropped)
            with pytest.raises(DeliveryNotFound):
                await store.hooks.redeliver(hook.id, dropped)
            with pytest.raises(DeliveryNotFound):
                await store.hooks.record_attempt(dropped, attempt(clock, ok=True))
        theirs = await store.hooks.list_deliveries(other.id, limit=1000)
        assert theirs.total == FINISHED_KEPT + 2
        assert {d.state for d in theirs.items} == {DeliveryState.pending}
        assert waiting.id in ids(await store.hooks.due_deliveries())

    # -- enqueueing ----------------------------------------------------------------------

    async def test_events_made_before_a_hook_are_never_delivered(self, store: Any) -> None:
        await self.issue_event(store)
        hook = await store.hooks.create_hook(new_hook())
        assert await store.hooks.enqueue_deliveries() == 0
        event = await self.issue_event(store)
        assert await store.hooks.enqueue_deliveries() == 1
        [delivery] = (await store.hooks.list_deliveries(hook.id)).items
        assert (delivery.event_id, delivery.event) == (event.id, CREATED)

    async def test_a_delivery_carries_the_event_as_the_feed_shows_it(
        self, store: Any, clock: ManualClock
    ) -> None:
        hook = await store.hooks.create_hook(new_hook())
        clock.advance(MINUTE)
        event = await self.issue_event(store)
        clock.advance(MINUTE)
        assert await store.hooks.enqueue_deliveries() == 1
        [delivery] = (await store.hooks.list_deliveries(hook.id)).items
        assert delivery.model_dump() == {
            "id": delivery.id,
            "hook_id": hook.id,
            "event_id": event.id,
            "event": CREATED,
            "state": DeliveryState.pending,
            "attempts": 0,
            "status_code": None,
            "duration_ms": None,
            "response": None,
            "created_at": clock(),
            "last_attempt_at": None,
            "next_attempt_at": clock(),
        }
        [due] = await store.hooks.due_deliveries()
        assert due.body == event_body(event)
        assert json.loads(due.body) == json.loads(event.model_dump_json())
        assert (due.id, due.hook_id, due.event, due.event_id) == (
            delivery.id,
            hook.id,
            CREATED,
            event.id,
        )
        assert (due.attempts, due.created_at) == (0, clock())
        assert await store.hooks.get_delivery(hook.id, delivery.id) == delivery

    async def test_only_the_types_a_hook_wants(self, store: Any) -> None:
        everything = await store.hooks.create_hook(new_hook())
        closing = await store.hooks.create_hook(new_hook([CLOSED]))
        closed = await self.close_event(store)
        assert await store.hooks.enqueue_deliveries() == 3
        all_of = (await store.hooks.list_deliveries(everything.id)).items
        assert [d.event for d in all_of] == [CLOSED, CREATED]
        [only] = (await store.hooks.list_deliveries(closing.id)).items
        assert (only.event, only.event_id) == (CLOSED, closed.id)

    async def test_the_cursor_moves_past_events_a_hook_does_not_want(self, store: Any) -> None:
        hook = await store.hooks.create_hook(new_hook([CLOSED]))
        await self.issue_event(store)
        assert await store.hooks.enqueue_deliveries() == 0
        await store.hooks.update_hook(hook.id, HookUpdate(events=[ALL_EVENTS]))
        assert await store.hooks.enqueue_deliveries() == 0
        event = await self.issue_event(store)
        assert await store.hooks.enqueue_deliveries() == 1
        [delivery] = (await store.hooks.list_deliveries(hook.id)).items
        assert delivery.event_id == event.id

    async def test_a_second_enqueue_makes_nothing_new(self, store: Any) -> None:
        hook = await store.hooks.create_hook(new_hook())
        await self.issue_event(store)
        assert await store.hooks.enqueue_deliveries() == 1
        assert await store.hooks.enqueue_deliveries() == 0
        assert (await store.hooks.list_deliveries(hook.id)).total == 1

    async def test_enqueue_tops_each_hooks_queue_up_to_limit(
        self, store: Any, clock: ManualClock
    ) -> None:
        hook = await store.hooks.create_hook(new_hook())
        picky = await store.hooks.create_hook(new_hook(events=["issue.closed"]))
        events = [await self.issue_event(store) for _ in range(5)]
        assert await store.hooks.enqueue_deliveries(limit=2) == 2
        # Full: two pending in the queue. The picky hook read its two and wanted neither.
        assert await store.hooks.enqueue_deliveries(limit=2) == 0
        [head] = await store.hooks.due_deliveries()
        await store.hooks.record_attempt(head.id, attempt(clock, ok=True))
        assert await store.hooks.enqueue_deliveries(limit=2) == 1
        assert await store.hooks.enqueue_deliveries(limit=3) == 1
        assert await store.hooks.enqueue_deliveries(limit=3) == 0
        page = await store.hooks.list_deliveries(hook.id)
        assert [d.event_id for d in reversed(page.items)] == [e.id for e in events[:4]]
        assert (await store.hooks.list_deliveries(picky.id)).total == 0
        # The picky hook's cursor went on past every event, its queue being empty; the
        # full one's stays.
        closed = await self.close_event(store)
        assert await store.hooks.enqueue_deliveries(limit=3) == 1
        assert [d.event_id for d in (await store.hooks.list_deliveries(picky.id)).items] == [
            closed.id
        ]

    async def test_inactive_hooks_get_nothing_and_skip_what_happened_meanwhile(
        self, store: Any
    ) -> None:
        hook = await store.hooks.create_hook(new_hook(active=False))
        await self.issue_event(store)
        assert await store.hooks.enqueue_deliveries() == 0
        await store.hooks.update_hook(hook.id, HookUpdate(active=True))
        assert await store.hooks.enqueue_deliveries() == 0
        await store.hooks.update_hook(hook.id, HookUpdate(active=False))
        await self.issue_event(store)
        await store.hooks.enqueue_deliveries()
        await store.hooks.update_hook(hook.id, HookUpdate(active=True))
        event = await self.issue_event(store)
        assert await store.hooks.enqueue_deliveries() == 1
        [delivery] = (await store.hooks.list_deliveries(hook.id)).items
        assert delivery.event_id == event.id

    async def test_reactivating_clears_failing_since(self, store: Any, clock: ManualClock) -> None:
        hook = await store.hooks.create_hook(new_hook())
        [delivery] = await self.queued(store, hook, 1)
        failing = await store.hooks.record_attempt(delivery.id, attempt(clock, ok=False))
        assert failing.failing_since == clock()
        clock.advance(MINUTE)
        stopped = await store.hooks.update_hook(hook.id, HookUpdate(active=False))
        assert stopped.failing_since == failing.failing_since
        started = await store.hooks.update_hook(hook.id, HookUpdate(active=True))
        assert (started.active, started.failing_since) == (True, None)
        assert await store.hooks.get_hook(hook.id) == started

    async def test_active_sent_to_an_active_hook_changes_nothing_else(
        self, store: Any, clock: ManualClock
    ) -> None:
        hook = await store.hooks.create_hook(new_hook())
        [delivery] = await self.queued(store, hook, 1)
        await store.hooks.record_attempt(delivery.id, attempt(clock, ok=False))
        event = await self.issue_event(store)
        still = await store.hooks.update_hook(hook.id, HookUpdate(active=True))
        assert still.failing_since == clock()
        assert await store.hooks.enqueue_deliveries() == 1
        newest = (await store.hooks.list_deliveries(hook.id)).items[0]
        assert newest.event_id == event.id

    # -- attempts ------------------------------------------------------------------------

    async def test_a_delivered_attempt(self, store: Any, clock: ManualClock) -> None:
        hook = await store.hooks.create_hook(new_hook())
        [delivery] = await self.queued(store, hook, 1)
        clock.advance(MINUTE)
        after = await store.hooks.record_attempt(
            delivery.id, attempt(clock, ok=True, status=204, response="")
        )
        assert after == await store.hooks.get_hook(hook.id)
        assert after.failing_since is None
        done = await store.hooks.get_delivery(hook.id, delivery.id)
        assert (done.state, done.attempts, done.status_code, done.duration_ms) == (
            DeliveryState.delivered,
            1,
            204,
            12.5,
        )
        assert (done.response, done.last_attempt_at, done.next_attempt_at) == ("", clock(), None)
        assert (done.created_at, done.event_id) == (delivery.created_at, delivery.event_id)
        with pytest.raises(DeliveryNotFound):
            await store.hooks.record_attempt("missing", attempt(clock, ok=True))

    async def test_failing_since_is_set_kept_and_cleared(
        self, store: Any, clock: ManualClock
    ) -> None:
        hook = await store.hooks.create_hook(new_hook())
        first, second = await self.queued(store, hook, 2)
        began = clock()
        failing = await store.hooks.record_attempt(
            first.id, attempt(clock, ok=False, retry_in=MINUTE, status=503, response="busy")
        )
        assert failing.failing_since == began
        waiting = await store.hooks.get_delivery(hook.id, first.id)
        assert (waiting.state, waiting.attempts, waiting.next_attempt_at) == (
            DeliveryState.pending,
            1,
            began + MINUTE,
        )
        assert (waiting.status_code, waiting.response) == (503, "busy")
        clock.advance(MINUTE)
        still = await store.hooks.record_attempt(
            first.id, attempt(clock, ok=False, status=None, response="timed out")
        )
        assert still.failing_since == began
        given_up = await store.hooks.get_delivery(hook.id, first.id)
        assert (given_up.state, given_up.attempts, given_up.next_attempt_at) == (
            DeliveryState.failed,
            2,
            None,
        )
        assert (given_up.status_code, given_up.response) == (None, "timed out")
        assert given_up.last_attempt_at == clock()
        cleared = await store.hooks.record_attempt(second.id, attempt(clock, ok=True))
        assert cleared.failing_since is None
        assert await store.hooks.get_hook(hook.id) == cleared

    async def test_the_response_kept_is_capped(self, store: Any, clock: ManualClock) -> None:
        hook = await store.hooks.create_hook(new_hook())
        [delivery] = await self.queued(store, hook, 1)
        long = "é" * (RESPONSE_SNIPPET + 10)
        await store.hooks.record_attempt(delivery.id, attempt(clock, ok=True, response=long))
        done = await store.hooks.get_delivery(hook.id, delivery.id)
        assert done.response == long[:RESPONSE_SNIPPET]

    async def test_deliveries_list_newest_first(self, store: Any) -> None:
        hook = await store.hooks.create_hook(new_hook())
        queued = await self.queued(store, hook, 3)
        ping = await store.hooks.queue_ping(hook.id)
        newest_first = [ping.id, *reversed(ids(queued))]
        whole = await store.hooks.list_deliveries(hook.id)
        assert (ids(whole.items), whole.total) == (newest_first, 4)
        page = await store.hooks.list_deliveries(hook.id, offset=1, limit=2)
        assert (ids(page.items), page.total) == (newest_first[1:3], 4)
        past = await store.hooks.list_deliveries(hook.id, offset=4)
        assert (list(past.items), past.total) == ([], 4)
        other = await store.hooks.create_hook(new_hook())
        none = await store.hooks.list_deliveries(other.id)
        assert (list(none.items), none.total) == ([], 0)

    # -- the lease -----------------------------------------------------------------------

    async def test_one_lease_holder_at_a_time(self, store: Any) -> None:
        assert await store.hooks.hold_delivery_lease("worker-a")
        assert await store.hooks.hold_delivery_lease("worker-a")  # renewing
        assert not await store.hooks.hold_delivery_lease("worker-b")
        await store.hooks.release_delivery_lease("worker-b")  # not its own: nothing
        assert not await store.hooks.hold_delivery_lease("worker-b")
        await store.hooks.release_delivery_lease("worker-a")
        assert await store.hooks.hold_delivery_lease("worker-b")
        assert not await store.hooks.hold_delivery_lease("worker-a")
        await store.hooks.release_delivery_lease("worker-b")
