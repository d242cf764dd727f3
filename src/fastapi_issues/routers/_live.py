"""The per-process fan-out hub behind the live event routes (SSE and WebSocket).

One `Hub` per store per process, made on the first subscriber and stopped when the last one
leaves. Its one task loops: wait for the store's wake (`EventStore.wait_for_events`, bounded
by a timeout), read what came after its cursor, and offer each event to every subscriber's
bounded buffer. It never awaits a subscriber: a subscriber whose buffer is full is marked
overflowed and dropped, so a stalled client slows neither writers nor other subscribers.

Under a stream of writes the hub reads at most once per `LiveLimits.interval` seconds, so
each read gathers many events and each subscriber wakes, and writes to its client, once for
all of them: per-event wake-ups and writes, times the subscribers, would cost more than the
writes themselves. The interval grows with the subscribers, as a fan-out's cost does. After
a quieter spell the first event is read at once.

`live_events` is what a route iterates: the replay from the log, then the live events, in
batches, with no gap and no duplicate across the switch (see its docstring for why).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from fastapi_issues.schemas import EventOut, EventType
from fastapi_issues.storage.errors import StorageError
from fastapi_issues.storage.protocols import EventStore
from fastapi_issues.storage.query import EventQuery

__all__ = [
    "Closed",
    "Encodings",
    "Hub",
    "HubFull",
    "LiveLimits",
    "Overflowed",
    "Subscriber",
    "encoded",
    "has_room",
    "hub_for",
    "live_events",
]

_log = logging.getLogger("fastapi_issues.events")

T = TypeVar("T")

_BATCH = 200
"""Events the hub and a replay read from the log at a time."""

_WAIT = 1.0
"""Seconds the hub waits for the store's wake before reading the log anyway."""

_RETRY = 1.0
"""Seconds the hub pauses after a store error before trying again."""


@dataclass(frozen=True)
class LiveLimits:
    """The bounds of the live routes, per store and process. Routers serving the same store
    share its hub: the first one to get a subscriber sets `max_subscribers` and the interval.

    Attributes:
        max_subscribers: live clients (SSE and WebSocket together) one process serves for one
            store; one more gets 503 with `Retry-After` (WebSocket: close code 1013).
        buffer: events kept for a subscriber that has not taken them yet; a subscriber that
            falls this far behind is disconnected with a reason, and resumes by id.
        heartbeat: seconds of quiet after which an SSE stream sends a comment, so proxies
            and clients do not take it for dead.
        retry_after: the `Retry-After` seconds of that 503.
        coalesce: seconds the hub lets pass after reading the log before it reads again.
            Events written meanwhile go out together, in one write per client, which is
            what lets many subscribers follow a busy store; it is also the most an event
            waits for that (one written after a quieter spell goes out at once). 0 reads
            after every write.
        coalesce_per_subscriber: seconds added to `coalesce` per subscriber: a fan-out
            costs each subscriber a wake-up and a write (about 50 us, measured in `bench/`),
            so with 1 ms each, fan-outs stay near 5% of the process under any stream of
            writes. The interval is at most 1 s.
    """

    max_subscribers: int = 1000
    buffer: int = 256
    heartbeat: float = 15.0
    retry_after: int = 5
    coalesce: float = 0.02
    coalesce_per_subscriber: float = 0.001

    def __post_init__(self) -> None:
        if self.max_subscribers < 1 or self.buffer < 1 or self.retry_after < 0:
            raise ValueError("max_subscribers and buffer must be at least 1, retry_after >= 0")
        if not self.heartbeat > 0:
            raise ValueError("heartbeat must be a positive number of seconds")
        if not 0 <= self.coalesce <= 1:
            raise ValueError("coalesce must be between 0 and 1 second")
        if not 0 <= self.coalesce_per_subscriber <= 0.01:
            raise ValueError("coalesce_per_subscriber must be between 0 and 0.01 second")

    def interval(self, subscribers: int) -> float:
        """The least time between two reads of the hub serving `subscribers` (see above)."""
        return min(max(self.coalesce, subscribers * self.coalesce_per_subscriber), 1.0)


class HubFull(Exception):
    """The hub already serves `max_subscribers`."""


class Overflowed(Exception):
    """The subscriber fell `buffer` events behind and was dropped; `last` is the id of the
    last event it was given (or passed over), where it resumes."""

    def __init__(self, last: int = 0) -> None:
        super().__init__(last)
        self.last = last


class Closed(Exception):
    """The subscriber was closed (its client left, or the hub stopped)."""


class Subscriber:
    """One live client's bounded buffer. The hub offers; the client's route takes."""

    def __init__(self, capacity: int, issue_id: str | None) -> None:
        self._capacity = capacity
        self.issue_id = issue_id
        self._events: deque[EventOut] = deque()
        self._wake = asyncio.Event()
        self.overflowed = False
        self.closed = False
        self.start: int | None = None
        """The id the hub had delivered up to when this subscriber joined: later events
        reach its buffer. None until the hub knows where it starts."""

    def offer(self, events: Sequence[EventOut]) -> bool:
        """Buffer `events` (those of its issue, when it follows one); False (and overflowed)
        when they do not fit. One call per batch: the hub's fan-out is per subscriber."""
        if self.issue_id is not None:
            events = [event for event in events if event.issue_id == self.issue_id]
            if not events:
                return True
        if len(self._events) + len(events) > self._capacity:
            self.overflowed = True
            self._events.clear()
            self._wake.set()
            return False
        self._events.extend(events)
        self._wake.set()
        return True

    def close(self) -> None:
        """End the subscription; a waiting `next` raises `Closed`."""
        self.closed = True
        self._wake.set()

    async def take(self, wait: float) -> list[EventOut]:
        """Every buffered event, oldest first; none after `wait` seconds without one."""
        while not self._events:
            if self.overflowed:
                raise Overflowed
            if self.closed:
                raise Closed
            self._wake.clear()
            try:
                async with asyncio.timeout(wait):
                    await self._wake.wait()
            except TimeoutError:
                return []
        taken = list(self._events)
        self._events.clear()
        return taken


class Hub:
    """Fans one store's new events out to this process's subscribers."""

    def __init__(self, store: EventStore, limits: LiveLimits) -> None:
        self._store = store
        self._limits = limits
        self._last_read = -math.inf
        self._subscribers: set[Subscriber] = set()
        self._ready = asyncio.Event()
        self._cursor = 0
        self._waiting = False
        self._task: asyncio.Task[None] | None = None

    @property
    def max_subscribers(self) -> int:
        """How many subscribers the hub serves at most."""
        return self._limits.max_subscribers

    @property
    def subscribers(self) -> int:
        """How many subscribers the hub serves now."""
        return len(self._subscribers)

    def subscribe(self, buffer: int, issue_id: str | None = None) -> Subscriber:
        """A new subscriber; raise `HubFull` beyond `max_subscribers`."""
        if len(self._subscribers) >= self._limits.max_subscribers:
            raise HubFull
        subscriber = Subscriber(buffer, issue_id)
        if self._ready.is_set():
            subscriber.start = self._cursor
        self._subscribers.add(subscriber)
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        """Drop `subscriber`; the last one leaving stops the hub (without awaiting it)."""
        subscriber.close()
        if subscriber not in self._subscribers:
            return
        self._subscribers.discard(subscriber)
        if self._subscribers:
            return
        self._forget()
        if self._task is not None and self._waiting:
            # Only the wait is cancelled (callers bound it with a timeout anyway); a read in
            # flight is let finish, and the loop then sees nobody is left.
            self._task.cancel()

    def _forget(self) -> None:
        # A hub without subscribers stops; the next subscriber makes a new one.
        if _HUBS.get(id(self._store)) is self:
            del _HUBS[id(self._store)]

    async def ready(self) -> None:
        """Wait until the hub knows where it starts (every subscriber's `start` is set)."""
        await self._ready.wait()

    async def _run(self) -> None:
        try:
            await self._start()
            while self._subscribers:
                await self._wait()
                await self._gather()
                await self._read()
        except asyncio.CancelledError:
            pass  # the last subscriber left while the hub waited
        except Exception:
            # A bug, not a store outage (those are retried): end every stream, so that
            # clients reconnect (by id) to a new hub rather than wait on a dead one.
            _log.exception("event hub failed; its subscribers are disconnected")
        finally:
            self._forget()
            for subscriber in list(self._subscribers):
                subscriber.close()
            self._ready.set()

    async def _start(self) -> None:
        while True:
            try:
                self._cursor = await self._store.last_event_id()
                break
            except StorageError as exc:
                _log.warning("event hub cannot read the log, retrying: %s", exc)
                await self._pause()
        for subscriber in self._subscribers:
            if subscriber.start is None:
                subscriber.start = self._cursor
        self._ready.set()

    async def _wait(self) -> None:
        self._waiting = True
        try:
            async with asyncio.timeout(_WAIT):
                await self._store.wait_for_events(self._cursor)
        except TimeoutError:
            pass
        except StorageError as exc:
            _log.warning("event hub lost the store's wake, retrying: %s", exc)
            await asyncio.sleep(_RETRY)
        finally:
            self._waiting = False

    async def _gather(self) -> None:
        # Let the events of the rest of the interval since the last read come too.
        interval = self._limits.interval(len(self._subscribers))
        due = self._last_read + interval - asyncio.get_running_loop().time()
        if due > 0:
            await self._pause(due)

    async def _pause(self, seconds: float = _RETRY) -> None:
        self._waiting = True
        try:
            await asyncio.sleep(seconds)
        finally:
            self._waiting = False

    async def _read(self) -> None:
        self._last_read = asyncio.get_running_loop().time()
        while self._subscribers:
            try:
                events = await self._store.list_events(EventQuery(after=self._cursor, limit=_BATCH))
            except StorageError as exc:
                _log.warning("event hub cannot read the log, retrying: %s", exc)
                await self._pause()
                continue
            if events:
                self._fan_out(events)
            if len(events) < _BATCH:
                return

    def _fan_out(self, events: Sequence[EventOut]) -> None:
        self._cursor = events[-1].id
        for subscriber in list(self._subscribers):
            if not subscriber.offer(events):
                self._subscribers.discard(subscriber)
                if not self._subscribers:
                    self._forget()


_HUBS: dict[int, Hub] = {}
"""This process's hubs, by store. A hub holds its store, so an id is never reused while it
is here; it leaves with its last subscriber."""


def has_room(store: EventStore, limits: LiveLimits) -> bool:
    """Whether one more subscriber of `store` may join (without making a hub)."""
    hub = _HUBS.get(id(store))
    return hub is None or hub.subscribers < hub.max_subscribers


def hub_for(store: EventStore, limits: LiveLimits) -> Hub:
    """The hub of `store` in this process, made now if it has none."""
    hub = _HUBS.get(id(store))
    if hub is None:
        hub = _HUBS[id(store)] = Hub(store, limits)
    return hub


class Encodings(Generic[T]):
    """Each event encoded once however many subscribers send it: the hub hands every
    subscriber the same object. An entry holds its event, so its id is not reused while
    it is kept; `kept` is more than a subscriber's batch, so a batch is encoded once."""

    def __init__(self, encode: Callable[[EventOut], T], kept: int = 512) -> None:
        self._encode = encode
        self._kept = kept
        self._cache: OrderedDict[int, tuple[EventOut, T]] = OrderedDict()

    def __call__(self, event: EventOut) -> T:
        key = id(event)
        found = self._cache.get(key)
        if found is not None and found[0] is event:
            return found[1]
        value = self._encode(event)
        self._cache[key] = (event, value)
        if len(self._cache) > self._kept:
            self._cache.popitem(last=False)
        return value


encoded: Encodings[str] = Encodings(lambda event: event.model_dump_json())
"""An event as JSON (what the WebSocket sends, and an SSE event's data)."""


Visible = Callable[[EventOut], Awaitable[bool]]
"""Whether the subscriber's user may see an event (the router's policy)."""


async def live_events(
    store: EventStore,
    hub: Hub,
    subscriber: Subscriber,
    after: int | None,
    *,
    types: frozenset[EventType] | None,
    visible: Visible | None,
    heartbeat: float,
) -> AsyncIterator[list[EventOut] | None]:
    """The events after `after` (or, when None, from now), then live, in batches of one
    or more (what the log gave in one read, or the hub in one fan-out: sent together);
    None each `heartbeat` seconds of quiet. `visible` None shows every event. Raises
    `Overflowed` (with the id to resume after) when the subscriber fell behind.

    The subscriber is registered before the replay starts, and the replay's last read is
    made once the hub knows its start: every event after that start reaches the buffer,
    every one before it the replay, so none is missed; buffered events with an id not
    above the last one sent are dropped, so none is sent twice.
    """
    await hub.ready()
    if subscriber.start is None:  # the hub stopped before it started
        raise Closed
    if after is None:
        last = subscriber.start
    else:
        last = after
        async for replayed in _replay(store, after, types, subscriber.issue_id):
            last = replayed[-1].id
            shown = await _shown(replayed, visible)
            if shown:
                yield shown
    while True:
        try:
            taken = await subscriber.take(heartbeat)
        except Overflowed:
            raise Overflowed(last) from None
        if not taken:
            yield None
            continue
        fresh = [
            event for event in taken if event.id > last and (types is None or event.type in types)
        ]
        # Every buffered event up to the newest is sent, hidden or of another type.
        last = max(last, taken[-1].id)
        shown = await _shown(fresh, visible)
        if shown:
            yield shown


async def _shown(events: Sequence[EventOut], visible: Visible | None) -> list[EventOut]:
    # Without a policy nothing is asked: that would be an await per event per subscriber.
    if visible is None:
        return list(events)
    return [event for event in events if await visible(event)]


async def _replay(
    store: EventStore, after: int, types: frozenset[EventType] | None, issue_id: str | None
) -> AsyncIterator[Sequence[EventOut]]:
    cursor = after
    while True:
        batch = await store.list_events(
            EventQuery(after=cursor, limit=_BATCH, types=types, issue_id=issue_id)
        )
        if batch:
            yield batch
        if len(batch) < _BATCH:
            return
        cursor = batch[-1].id
