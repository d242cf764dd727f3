"""Webhooks and their deliveries as the memory and JSON stores keep them: plain records and
the edits `HookStore` makes, each a synchronous step (so atomic in one event loop)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from fastapi_issues.schemas import (
    ALL_EVENTS,
    PING,
    DeliveryOut,
    DeliveryState,
    EventOut,
    HookCreate,
    HookOut,
    HookUpdate,
)
from fastapi_issues.storage.clock import Clock
from fastapi_issues.storage.deliveries import (
    FINISHED_KEPT,
    RESPONSE_SNIPPET,
    AttemptResult,
    DueDelivery,
    checked_kept,
    event_body,
    ping_body,
)
from fastapi_issues.storage.errors import DeliveryNotFound, HookNotFound
from fastapi_issues.storage.query import DeliveryPage, EventQuery, HookPage
from fastapi_issues.storage.records._events import EventLog

__all__ = [
    "LEASE_SECONDS",
    "BookHooks",
    "HookBook",
    "ProcessLease",
    "StoredDelivery",
    "StoredHook",
]

LEASE_SECONDS = 30.0
"""How long a delivery lease lasts unless its holder renews it."""

EventReader = Callable[[int, int], Sequence[EventOut]]
"""Reads at most `limit` events after an id: `(after, limit) -> events`, ascending."""


@dataclass
class StoredHook:
    """A hook with what only the store sees: its secret and its cursor in the event log."""

    shown: HookOut
    secret: str = field(repr=False)
    cursor: int

    def wants(self, event: EventOut) -> bool:
        events = self.shown.events
        return ALL_EVENTS in events or event.type.value in events


@dataclass
class StoredDelivery:
    """A delivery with its body, and whether it waits in its hook's ordered queue (event
    deliveries) or goes at once (pings and redeliveries of finished ones)."""

    shown: DeliveryOut
    body: bytes = field(repr=False)
    queued: bool
    seq: int


class HookBook:
    """Every hook and delivery of one store. Writes take `now` from the store's clock;
    `kept` is how many finished deliveries each hook keeps (`HookStore`'s History)."""

    def __init__(self, kept: int = FINISHED_KEPT) -> None:
        self.hooks: dict[str, StoredHook] = {}
        self.deliveries: dict[str, StoredDelivery] = {}
        self.kept = checked_kept(kept)
        self._seq = 0

    @classmethod
    def holding(
        cls, records: Iterable[StoredHook | StoredDelivery], kept: int = FINISHED_KEPT
    ) -> HookBook:
        """A book over records kept elsewhere (the JSON store's file), in their order,
        shared rather than copied; the deliveries it adds are numbered after theirs."""
        book = cls(kept)
        for record in records:
            if isinstance(record, StoredHook):
                book.hooks[record.shown.id] = record
            else:
                book.deliveries[record.shown.id] = record
                book._seq = max(book._seq, record.seq)
        return book

    # -- the admin side ------------------------------------------------------------------

    def create(self, data: HookCreate, now: datetime, last_event_id: int) -> HookOut:
        shown = HookOut(
            id=str(uuid.uuid4()),
            url=data.url,
            events=list(data.events),
            active=data.active,
            created_at=now,
            updated_at=now,
        )
        secret = data.secret.get_secret_value()
        self.hooks[shown.id] = StoredHook(shown, secret, last_event_id)
        return shown

    def hook(self, hook_id: str) -> StoredHook:
        stored = self.hooks.get(hook_id)
        if stored is None:
            raise HookNotFound(hook_id)
        return stored

    def page(self, offset: int, limit: int) -> HookPage:
        hooks = [stored.shown for stored in self.hooks.values()]
        start = max(offset, 0)
        return HookPage(items=hooks[start : start + max(limit, 0)], total=len(hooks))

    def update(
        self, hook_id: str, changes: HookUpdate, now: datetime, last_event_id: int
    ) -> HookOut:
        stored = self.hook(hook_id)
        sent = changes.changes()
        fields: dict[str, object] = {"updated_at": now}
        if "url" in sent:
            fields["url"] = changes.url
        if "events" in sent:
            fields["events"] = list(changes.events)
        if "active" in sent:
            fields["active"] = changes.active
            if changes.active and not stored.shown.active:
                fields["failing_since"] = None
                stored.cursor = last_event_id
        if "secret" in sent:
            stored.secret = changes.secret.get_secret_value()
        stored.shown = stored.shown.model_copy(update=fields)
        return stored.shown

    def delete(self, hook_id: str) -> None:
        self.hook(hook_id)
        del self.hooks[hook_id]
        for delivery_id in [d.shown.id for d in self._of(hook_id)]:
            del self.deliveries[delivery_id]

    def delivery_page(self, hook_id: str, offset: int, limit: int) -> DeliveryPage:
        self.hook(hook_id)
        mine = sorted(self._of(hook_id), key=lambda d: d.seq, reverse=True)
        start = max(offset, 0)
        items = [d.shown for d in mine[start : start + max(limit, 0)]]
        return DeliveryPage(items=items, total=len(mine))

    def delivery(self, hook_id: str, delivery_id: str) -> StoredDelivery:
        self.hook(hook_id)
        stored = self.deliveries.get(delivery_id)
        if stored is None or stored.shown.hook_id != hook_id:
            raise DeliveryNotFound(delivery_id)
        return stored

    def ping(self, hook_id: str, now: datetime) -> DeliveryOut:
        hook = self.hook(hook_id).shown
        return self._add(hook_id, None, PING, ping_body(hook), now, queued=False).shown

    def redeliver(self, hook_id: str, delivery_id: str, now: datetime) -> DeliveryOut:
        stored = self.delivery(hook_id, delivery_id)
        if stored.shown.state is not DeliveryState.pending:
            stored.queued = False
        stored.shown = stored.shown.model_copy(
            update={"state": DeliveryState.pending, "next_attempt_at": now}
        )
        return stored.shown

    # -- the worker's side ---------------------------------------------------------------

    def enqueue(self, read: EventReader, limit: int, now: datetime) -> int:
        made = 0
        waiting = self.queued_per_hook()
        for stored in self.hooks.values():
            room = limit - waiting.get(stored.shown.id, 0)
            if not stored.shown.active or room <= 0:
                continue
            events = read(stored.cursor, room)
            for event in events:
                if stored.wants(event):
                    body = event_body(event)
                    self._add(stored.shown.id, event.id, event.type.value, body, now, queued=True)
                    made += 1
            if events:
                stored.cursor = events[-1].id
        return made

    def queued_per_hook(self) -> dict[str, int]:
        """How many pending deliveries wait in each hook's queue (hooks with none left out)."""
        waiting: dict[str, int] = {}
        for stored in self.deliveries.values():
            if stored.queued and stored.shown.state is DeliveryState.pending:
                hook_id = stored.shown.hook_id
                waiting[hook_id] = waiting.get(hook_id, 0) + 1
        return waiting

    def due(self, now: datetime, limit: int) -> list[DueDelivery]:
        found: list[StoredDelivery] = []
        head: dict[str, StoredDelivery] = {}
        for stored in sorted(self.deliveries.values(), key=lambda d: d.seq):
            if stored.shown.state is not DeliveryState.pending:
                continue
            if stored.queued:
                head.setdefault(stored.shown.hook_id, stored)
            elif self._is_due(stored, now, ping_ok=True):
                found.append(stored)
        found += [d for d in head.values() if self._is_due(d, now, ping_ok=False)]
        found.sort(key=lambda d: (d.shown.next_attempt_at or now, d.seq))
        return [self._due(stored) for stored in found[: max(limit, 0)]]

    def record(self, delivery_id: str, result: AttemptResult) -> HookOut:
        stored = self.deliveries.get(delivery_id)
        if stored is None:
            raise DeliveryNotFound(delivery_id)
        hook = self.hook(stored.shown.hook_id)
        if result.ok:
            state, next_at = DeliveryState.delivered, None
        elif result.retry_at is not None:
            state, next_at = DeliveryState.pending, result.retry_at
        else:
            state, next_at = DeliveryState.failed, None
        stored.shown = stored.shown.model_copy(
            update={
                "state": state,
                "attempts": stored.shown.attempts + 1,
                "status_code": result.status_code,
                "duration_ms": result.duration_ms,
                "response": result.response[:RESPONSE_SNIPPET],
                "last_attempt_at": result.at,
                "next_attempt_at": next_at,
            }
        )
        failing_since = None if result.ok else (hook.shown.failing_since or result.at)
        if failing_since != hook.shown.failing_since:
            hook.shown = hook.shown.model_copy(update={"failing_since": failing_since})
        if state is not DeliveryState.pending:
            self._drop_finished(hook.shown.id)
        return hook.shown

    def _drop_finished(self, hook_id: str) -> None:
        """Keep the hook's `kept` newest finished deliveries, by creation order."""
        finished = [d for d in self._of(hook_id) if d.shown.state is not DeliveryState.pending]
        surplus = len(finished) - self.kept
        if surplus <= 0:
            return
        finished.sort(key=lambda d: d.seq)
        for stored in finished[:surplus]:
            del self.deliveries[stored.shown.id]

    # -- helpers -------------------------------------------------------------------------

    def _of(self, hook_id: str) -> list[StoredDelivery]:
        return [d for d in self.deliveries.values() if d.shown.hook_id == hook_id]

    def _add(
        self,
        hook_id: str,
        event_id: int | None,
        event: str,
        body: bytes,
        now: datetime,
        *,
        queued: bool,
    ) -> StoredDelivery:
        self._seq += 1
        shown = DeliveryOut(
            id=str(uuid.uuid4()),
            hook_id=hook_id,
            event_id=event_id,
            event=event,
            state=DeliveryState.pending,
            attempts=0,
            created_at=now,
            next_attempt_at=now,
        )
        stored = StoredDelivery(shown, body, queued, self._seq)
        self.deliveries[shown.id] = stored
        return stored

    def _is_due(self, stored: StoredDelivery, now: datetime, *, ping_ok: bool) -> bool:
        hook = self.hooks[stored.shown.hook_id].shown
        if not hook.active and not (ping_ok and stored.shown.event == PING):
            return False
        due_at = stored.shown.next_attempt_at
        return due_at is None or due_at <= now

    def _due(self, stored: StoredDelivery) -> DueDelivery:
        hook = self.hooks[stored.shown.hook_id]
        shown = stored.shown
        return DueDelivery(
            id=shown.id,
            hook_id=shown.hook_id,
            url=hook.shown.url,
            secret=hook.secret,
            event=shown.event,
            event_id=shown.event_id,
            body=stored.body,
            attempts=shown.attempts,
            created_at=shown.created_at,
        )


class ProcessLease:
    """The delivery lease of data one process holds alone (the memory store's)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._owner: str | None = None
        self._until = 0.0

    def hold(self, owner: str) -> bool:
        now = self._clock()
        if self._owner not in (None, owner) and now < self._until:
            return False
        self._owner, self._until = owner, now + LEASE_SECONDS
        return True

    def release(self, owner: str) -> None:
        if self._owner == owner:
            self._owner = None


class BookHooks:
    """`HookStore` over a `HookBook` in this process (the memory store's `hooks`): every
    method is one synchronous step, so atomic.

    `log` gives the store's event log as it is now (pruning replaces it), `clock` the time.
    """

    def __init__(self, book: HookBook, log: Callable[[], EventLog], clock: Clock) -> None:
        self._book = book
        self._log = log
        self._clock = clock
        self._lease = ProcessLease()

    async def create_hook(self, data: HookCreate) -> HookOut:
        return self._book.create(data, self._clock(), self._log().last_id)

    async def get_hook(self, hook_id: str) -> HookOut:
        return self._book.hook(hook_id).shown

    async def list_hooks(self, *, offset: int = 0, limit: int = 100) -> HookPage:
        return self._book.page(offset, limit)

    async def update_hook(self, hook_id: str, changes: HookUpdate) -> HookOut:
        return self._book.update(hook_id, changes, self._clock(), self._log().last_id)

    async def delete_hook(self, hook_id: str) -> None:
        self._book.delete(hook_id)

    async def list_deliveries(
        self, hook_id: str, *, offset: int = 0, limit: int = 20
    ) -> DeliveryPage:
        return self._book.delivery_page(hook_id, offset, limit)

    async def get_delivery(self, hook_id: str, delivery_id: str) -> DeliveryOut:
        return self._book.delivery(hook_id, delivery_id).shown

    async def queue_ping(self, hook_id: str) -> DeliveryOut:
        return self._book.ping(hook_id, self._clock())

    async def redeliver(self, hook_id: str, delivery_id: str) -> DeliveryOut:
        return self._book.redeliver(hook_id, delivery_id, self._clock())

    async def enqueue_deliveries(self, *, limit: int = 1000) -> int:
        def read(after: int, count: int) -> Sequence[EventOut]:
            return self._log().select(EventQuery(after=after, limit=count))

        return self._book.enqueue(read, limit, self._clock())

    async def due_deliveries(self, *, limit: int = 100) -> Sequence[DueDelivery]:
        return self._book.due(self._clock(), limit)

    async def record_attempt(self, delivery_id: str, result: AttemptResult) -> HookOut:
        return self._book.record(delivery_id, result)

    async def hold_delivery_lease(self, owner: str) -> bool:
        return self._lease.hold(owner)

    async def release_delivery_lease(self, owner: str) -> None:
        self._lease.release(owner)
