"""The per-process fan-out hub: bounded buffers, a stalled subscriber dropped without
slowing anyone else, the replay-then-live switch, and no task left behind."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

import fastapi_issues.routers._live as live
from fastapi_issues import InMemoryIssueStore, IssueCreate, LiveLimits
from fastapi_issues.schemas import EventOut
from fastapi_issues.storage.query import EventQuery

pytestmark = pytest.mark.anyio

WAIT = 10.0


async def create(store: InMemoryIssueStore, count: int) -> None:
    for n in range(count):
        await store.create(IssueCreate(title=f"Issue {n}", description="Something is broken"))


async def take(events: object, count: int) -> list[int]:
    ids: list[int] = []
    async with asyncio.timeout(WAIT):
        async for batch in events:  # type: ignore[attr-defined]
            ids.extend(event.id for event in batch or ())
            if len(ids) >= count:
                return ids
    raise AssertionError("the events ended early")


async def everything(event: EventOut) -> bool:
    return True


async def test_a_stalled_subscriber_is_dropped_and_the_others_get_every_event() -> None:
    store = InMemoryIssueStore()
    hub = live.hub_for(store, LiveLimits())
    stalled = hub.subscribe(buffer=3)
    reader = hub.subscribe(buffer=100)
    async with asyncio.timeout(WAIT):
        await hub.ready()

    await create(store, 10)  # the writer never waits for a subscriber
    ids = await take(
        live.live_events(store, hub, reader, None, types=None, visible=everything, heartbeat=WAIT),
        10,
    )

    assert ids == list(range(1, 11))
    assert stalled.overflowed
    with pytest.raises(live.Overflowed):
        await stalled.take(0.01)
    assert hub.subscribers == 1
    hub.unsubscribe(reader)
    assert not live._HUBS


async def test_the_hub_stops_when_its_last_subscriber_leaves() -> None:
    store = InMemoryIssueStore()
    hub = live.hub_for(store, LiveLimits())
    subscriber = hub.subscribe(buffer=10)
    async with asyncio.timeout(WAIT):
        await hub.ready()
    task = hub._task
    assert task is not None

    hub.unsubscribe(subscriber)
    async with asyncio.timeout(WAIT):
        await asyncio.wait({task})

    assert task.done()
    assert not task.cancelled()  # it ended its own loop
    assert live.hub_for(store, LiveLimits()) is not hub  # the next subscriber gets a new one
    live._HUBS.clear()


async def test_max_subscribers_is_per_store_and_process() -> None:
    store = InMemoryIssueStore()
    hub = live.hub_for(store, LiveLimits(max_subscribers=2))
    first = hub.subscribe(buffer=1)
    second = hub.subscribe(buffer=1)
    assert not live.has_room(store, LiveLimits())
    with pytest.raises(live.HubFull):
        hub.subscribe(buffer=1)
    assert live.has_room(InMemoryIssueStore(), LiveLimits())
    hub.unsubscribe(first)
    assert live.has_room(store, LiveLimits())
    hub.unsubscribe(second)
    assert not live._HUBS


async def test_replay_then_live_has_no_gap_and_no_duplicate_while_writes_go_on() -> None:
    store = InMemoryIssueStore()
    await create(store, 30)
    hub = live.hub_for(store, LiveLimits())
    subscriber = hub.subscribe(buffer=1000)
    writing = asyncio.create_task(create(store, 50))  # meanwhile, 50 more
    ids = await take(
        live.live_events(store, hub, subscriber, 5, types=None, visible=everything, heartbeat=WAIT),
        75,
    )
    await writing
    hub.unsubscribe(subscriber)
    assert ids == list(range(6, 81))


class BrokenLog(InMemoryIssueStore):
    async def last_event_id(self) -> int:
        raise RuntimeError("a bug in the store")


async def test_a_failing_hub_ends_its_streams_instead_of_leaving_them_waiting(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = BrokenLog()
    hub = live.hub_for(store, LiveLimits())
    subscriber = hub.subscribe(buffer=10)
    with pytest.raises(live.Closed):
        await take(
            live.live_events(
                store, hub, subscriber, 0, types=None, visible=everything, heartbeat=WAIT
            ),
            1,
        )
    assert not live._HUBS
    assert "event hub failed" in caplog.text


async def test_an_event_is_encoded_once_for_all_its_subscribers() -> None:
    store = InMemoryIssueStore()
    await create(store, 2)
    first, second = await store.list_events(EventQuery())

    once = live.encoded(first)

    assert live.encoded(first) is once  # the same text, not encoded again
    assert once == first.model_dump_json()
    assert live.encoded(second) == second.model_dump_json()


async def test_a_burst_is_read_in_one_batch_and_the_first_event_after_quiet_at_once() -> None:
    store = InMemoryIssueStore()
    hub = live.hub_for(store, LiveLimits(coalesce=1.0))
    subscriber = hub.subscribe(buffer=100)
    events = live.live_events(
        store, hub, subscriber, None, types=None, visible=everything, heartbeat=WAIT
    )
    async with asyncio.timeout(WAIT):
        await hub.ready()
        loop = asyncio.get_running_loop()
        written = loop.time()
        await create(store, 1)
        first = await anext(events)
        # Not held for the interval: the hub had read nothing for longer than that.
        waited = loop.time() - written
        for _ in range(49):  # each write wakes the hub, as separate requests would
            await create(store, 1)
            await asyncio.sleep(0)
        second = await anext(events)
    await events.aclose()
    hub.unsubscribe(subscriber)

    assert waited < 1.0
    assert [event.id for event in first or ()] == [1]
    assert [event.id for event in second or ()] == list(range(2, 51))
    assert not live._HUBS


@pytest.mark.parametrize("coalesce", [-0.01, 1.5, float("nan")])
def test_coalesce_is_a_short_interval(coalesce: float) -> None:
    with pytest.raises(ValueError, match="coalesce"):
        LiveLimits(coalesce=coalesce)


@pytest.mark.parametrize("each", [-0.001, 0.02, float("nan")])
def test_coalesce_per_subscriber_is_a_short_interval(each: float) -> None:
    with pytest.raises(ValueError, match="coalesce_per_subscriber"):
        LiveLimits(coalesce_per_subscriber=each)


def test_the_interval_grows_with_the_subscribers_up_to_a_second() -> None:
    limits = LiveLimits(coalesce=0.02, coalesce_per_subscriber=0.001)
    assert [limits.interval(n) for n in (0, 1, 20, 100, 1000, 5000)] == pytest.approx(
        [0.02, 0.02, 0.02, 0.1, 1.0, 1.0]
    )
    assert LiveLimits(coalesce=0.3, coalesce_per_subscriber=0).interval(1000) == 0.3


async def test_a_hub_with_more_subscribers_gathers_a_burst_for_longer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = InMemoryIssueStore()
    reads: list[int] = []
    list_events = store.list_events

    async def counted(query: EventQuery) -> Sequence[EventOut]:
        found = await list_events(query)
        reads.append(len(found))
        return found

    monkeypatch.setattr(store, "list_events", counted)
    # No fixed interval: with ten subscribers, the reads are 0.1 s apart.
    hub = live.hub_for(store, LiveLimits(coalesce=0, coalesce_per_subscriber=0.01))
    watched, *others = (hub.subscribe(buffer=100) for _ in range(10))
    events = live.live_events(
        store, hub, watched, None, types=None, visible=everything, heartbeat=WAIT
    )
    async with asyncio.timeout(WAIT):
        await hub.ready()
        await create(store, 1)
        first = await anext(events)
        for _ in range(9):
            await create(store, 1)
            await asyncio.sleep(0.002)
        second = await anext(events)
    await events.aclose()
    for subscriber in (watched, *others):
        hub.unsubscribe(subscriber)

    assert [event.id for event in first or ()] == [1]
    assert [event.id for event in second or ()] == list(range(2, 11))
    # The first event at once, the nine of the burst in one read (reads finding nothing
    # aside): a read per write would be nine.
    assert [found for found in reads if found] == [1, 9]
    assert not live._HUBS
