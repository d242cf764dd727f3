"""The webhook part of the SQL store (`HookStore`): hooks in `hooks`, their deliveries in
`hook_deliveries` (gone with their hook: ON DELETE CASCADE), and who delivers in the one
row of `hook_lease`.

Enqueueing reads the new events through the store's `EventLog` and writes the deliveries
from Python, not with an INSERT ... SELECT: a delivery's body is `event_body(event)`, the
event's JSON as pydantic writes it, byte for byte, which no SQL expression reproduces, and
a body rendered later would be lost once the log is pruned. Hooks at the same cursor (all
of them, once they are up to date) share one read and one body per event, and every
hook's cursor moves with its deliveries in one transaction. A cursor moves only from the
value read (`WHERE cursor = :read AND active`): a concurrent enqueue, a reactivation or a
delete meanwhile turns that hook's share into nothing rather than into duplicates.

The delivery lease is `_hook_lease.RowLease`.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Integer,
    bindparam,
    case,
    delete,
    false,
    func,
    insert,
    null,
    select,
    true,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from fastapi_issues.schemas import (
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
from fastapi_issues.storage.rules import as_utc
from fastapi_issues.storage.sql._database import SQLDatabase
from fastapi_issues.storage.sql._events import EventLog
from fastapi_issues.storage.sql._hook_due import DUE, DUE_LATERAL
from fastapi_issues.storage.sql._hook_lease import RowLease
from fastapi_issues.storage.sql._schema import hook_deliveries, hooks

__all__ = ["SQLHooks"]

_PENDING = DeliveryState.pending.value

_HOOK_COLUMNS = (
    hooks.c.id,
    hooks.c.url,
    hooks.c.events,
    hooks.c.active,
    hooks.c.created_at,
    hooks.c.updated_at,
    hooks.c.failing_since,
)
_DELIVERY_COLUMNS = (
    hook_deliveries.c.id,
    hook_deliveries.c.hook_id,
    hook_deliveries.c.event_id,
    hook_deliveries.c.event,
    hook_deliveries.c.state,
    hook_deliveries.c.attempts,
    hook_deliveries.c.status_code,
    hook_deliveries.c.duration_ms,
    hook_deliveries.c.response,
    hook_deliveries.c.created_at,
    hook_deliveries.c.last_attempt_at,
    hook_deliveries.c.next_attempt_at,
)

_HOOK = select(*_HOOK_COLUMNS).where(hooks.c.id == bindparam("hook_id"))
_HOOK_EXISTS = select(hooks.c.seq).where(hooks.c.id == bindparam("hook_id"))
_HOOK_PAGE = (
    select(*_HOOK_COLUMNS)
    .order_by(hooks.c.seq)
    .limit(bindparam("limit", type_=Integer))
    .offset(bindparam("offset", type_=Integer))
)
_HOOK_COUNT = select(func.count()).select_from(hooks)
_DELETE_HOOK = delete(hooks).where(hooks.c.id == bindparam("hook_id")).returning(hooks.c.id)
# With each hook's pending queued deliveries, counted in its range of the queue index (at
# most the enqueue limit, so a few rows a hook).
_QUEUED = (
    select(func.count())
    .where(
        hook_deliveries.c.hook_id == hooks.c.id,
        hook_deliveries.c.queued == true(),
        hook_deliveries.c.state == _PENDING,
    )
    .correlate(hooks)
    .scalar_subquery()
)
_ACTIVE_HOOKS = (
    select(hooks.c.id, hooks.c.events, hooks.c.cursor, _QUEUED)
    .where(hooks.c.active == true())
    .order_by(hooks.c.seq)
)
_MOVE_CURSOR = (
    update(hooks)
    .where(
        hooks.c.id == bindparam("hook_id"),
        hooks.c.cursor == bindparam("read"),
        hooks.c.active == true(),
    )
    .values(cursor=bindparam("moved"))
    .returning(hooks.c.id)
)

_DELIVERY = select(*_DELIVERY_COLUMNS).where(
    hook_deliveries.c.id == bindparam("delivery_id"),
    hook_deliveries.c.hook_id == bindparam("hook_id"),
)
_DELIVERY_PAGE = (
    select(*_DELIVERY_COLUMNS)
    .where(hook_deliveries.c.hook_id == bindparam("hook_id"))
    .order_by(hook_deliveries.c.seq.desc())
    .limit(bindparam("limit", type_=Integer))
    .offset(bindparam("offset", type_=Integer))
)
_DELIVERY_COUNT = (
    select(func.count())
    .select_from(hook_deliveries)
    .where(hook_deliveries.c.hook_id == bindparam("hook_id"))
)
_INSERT_DELIVERY = insert(hook_deliveries)
_REDELIVER = (
    update(hook_deliveries)
    .where(
        hook_deliveries.c.id == bindparam("delivery_id"),
        # Not "hook_id": an UPDATE keeps its columns' names for the SET clause's values.
        hook_deliveries.c.hook_id == bindparam("of_hook"),
    )
    .values(
        # A finished delivery goes again at once, outside the queue; a pending one keeps
        # its place in it. (The right-hand sides read the row as it was.)
        queued=case((hook_deliveries.c.state != _PENDING, false()), else_=hook_deliveries.c.queued),
        state=_PENDING,
        next_attempt_at=bindparam("now"),
    )
    .returning(*_DELIVERY_COLUMNS)
)
_RECORD = (
    update(hook_deliveries)
    .where(hook_deliveries.c.id == bindparam("delivery_id"))
    .values(
        state=bindparam("state"),
        attempts=hook_deliveries.c.attempts + 1,
        status_code=bindparam("status_code"),
        duration_ms=bindparam("duration_ms"),
        response=bindparam("response"),
        last_attempt_at=bindparam("at"),
        next_attempt_at=bindparam("next_at"),
    )
    .returning(hook_deliveries.c.hook_id)
)
# The hook's finished deliveries past the newest `kept` (by creation order, which `seq`
# is): what an attempt that finishes one drops (`HookStore`'s History); the index on
# (hook_id, seq) walks only that hook's rows.
_SURPLUS_FINISHED = (
    select(hook_deliveries.c.seq)
    .where(hook_deliveries.c.hook_id == bindparam("hook_id"), hook_deliveries.c.state != _PENDING)
    .order_by(hook_deliveries.c.seq.desc())
    .offset(bindparam("kept", type_=Integer))
)
_DROP_FINISHED = delete(hook_deliveries).where(hook_deliveries.c.seq.in_(_SURPLUS_FINISHED))
_SUCCEEDED = (
    update(hooks)
    .where(hooks.c.id == bindparam("hook_id"))
    .values(failing_since=null())
    .returning(*_HOOK_COLUMNS)
)
_FAILED = (
    update(hooks)
    .where(hooks.c.id == bindparam("hook_id"))
    .values(
        failing_since=func.coalesce(
            hooks.c.failing_since, bindparam("at", type_=hooks.c.failing_since.type)
        )
    )
    .returning(*_HOOK_COLUMNS)
)


def _secret_bytes(secret: str) -> bytes:
    return secret.encode("utf-8", "surrogatepass")


def _hook(row: Sequence[Any]) -> HookOut:
    return HookOut(
        id=row[0],
        url=row[1],
        events=list(row[2]),
        active=bool(row[3]),
        created_at=row[4],
        updated_at=row[5],
        failing_since=row[6],
    )


def _delivery(row: Sequence[Any]) -> DeliveryOut:
    return DeliveryOut(
        id=row[0],
        hook_id=row[1],
        event_id=row[2],
        event=row[3],
        state=DeliveryState(row[4]),
        attempts=row[5],
        status_code=row[6],
        duration_ms=row[7],
        response=row[8],
        created_at=row[9],
        last_attempt_at=row[10],
        next_attempt_at=row[11],
    )


def _new_delivery(
    hook_id: str, event_id: int | None, event: str, body: bytes, now: datetime, *, queued: bool
) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "hook_id": hook_id,
        "event_id": event_id,
        "event": event,
        "body": body,
        "queued": queued,
        "state": _PENDING,
        "attempts": 0,
        "created_at": now,
        "next_attempt_at": now,
    }


def _wants(events: Sequence[str], event: EventOut) -> bool:
    return "*" in events or event.type.value in events


class SQLHooks:
    """The `HookStore` of `SQLIssueStore` (its `hooks`), over the store's database and
    event log. Every write is one transaction; "now" is the store's clock."""

    def __init__(
        self, db: SQLDatabase, clock: Clock, events: EventLog, *, kept: int = FINISHED_KEPT
    ) -> None:
        self._db = db
        self._clock = clock
        self._events = events
        self._kept = checked_kept(kept)
        self._lease = RowLease(db, clock)

    # -- the admin side ------------------------------------------------------------------

    async def create_hook(self, data: HookCreate) -> HookOut:
        """See `HookStore.create_hook`."""
        now = as_utc(self._clock())
        cursor = await self._events.last_event_id()
        hook = HookOut(
            id=str(uuid.uuid4()),
            url=data.url,
            events=list(data.events),
            active=data.active,
            created_at=now,
            updated_at=now,
        )
        row = {
            **hook.model_dump(),
            "secret": _secret_bytes(data.secret.get_secret_value()),
            "cursor": cursor,
        }
        async with self._db.transaction() as conn:
            await conn.execute(insert(hooks), row)
        return hook

    async def get_hook(self, hook_id: str) -> HookOut:
        """See `HookStore.get_hook`."""
        if self._db.unstorable(hook_id):
            raise HookNotFound(hook_id)
        async with self._db.reading() as conn:
            row = (await conn.execute(_HOOK, {"hook_id": hook_id})).first()
        if row is None:
            raise HookNotFound(hook_id)
        return _hook(row)

    async def list_hooks(self, *, offset: int = 0, limit: int = 100) -> HookPage:
        """See `HookStore.list_hooks`."""
        params = {"offset": max(offset, 0), "limit": max(limit, 0)}
        async with self._db.reading() as conn:
            rows = (await conn.execute(_HOOK_PAGE, params)).all() if limit > 0 else []
            total = (await conn.execute(_HOOK_COUNT)).scalar_one()
        return HookPage(items=[_hook(row) for row in rows], total=int(total))

    async def update_hook(self, hook_id: str, changes: HookUpdate) -> HookOut:
        """See `HookStore.update_hook`."""
        if self._db.unstorable(hook_id):
            raise HookNotFound(hook_id)
        sent = changes.changes()
        values: dict[str, Any] = {"updated_at": as_utc(self._clock())}
        if "url" in sent:
            values["url"] = changes.url
        if "events" in sent:
            values["events"] = list(changes.events)
        if "secret" in sent:
            values["secret"] = _secret_bytes(changes.secret.get_secret_value())
        if "active" in sent:
            values["active"] = changes.active
            if changes.active:
                # Only a hook that was inactive starts again: at the events made from now,
                # with its failure record cleared. The CASEs read the row as it was.
                was_inactive = hooks.c.active == false()
                last = await self._events.last_event_id()
                values["cursor"] = case((was_inactive, last), else_=hooks.c.cursor)
                values["failing_since"] = case((was_inactive, null()), else_=hooks.c.failing_since)
        statement = (
            update(hooks).where(hooks.c.id == hook_id).values(values).returning(*_HOOK_COLUMNS)
        )
        async with self._db.transaction() as conn:
            row = (await conn.execute(statement)).first()
        if row is None:
            raise HookNotFound(hook_id)
        return _hook(row)

    async def delete_hook(self, hook_id: str) -> None:
        """See `HookStore.delete_hook`."""
        if self._db.unstorable(hook_id):
            raise HookNotFound(hook_id)
        async with self._db.transaction() as conn:
            deleted = (await conn.execute(_DELETE_HOOK, {"hook_id": hook_id})).first()
        if deleted is None:
            raise HookNotFound(hook_id)

    async def list_deliveries(
        self, hook_id: str, *, offset: int = 0, limit: int = 20
    ) -> DeliveryPage:
        """See `HookStore.list_deliveries`."""
        if self._db.unstorable(hook_id):
            raise HookNotFound(hook_id)
        params = {"hook_id": hook_id, "offset": max(offset, 0), "limit": max(limit, 0)}
        async with self._db.reading() as conn:
            await _require_hook(conn, hook_id)
            rows = (await conn.execute(_DELIVERY_PAGE, params)).all() if limit > 0 else []
            total = (await conn.execute(_DELIVERY_COUNT, params)).scalar_one()
        return DeliveryPage(items=[_delivery(row) for row in rows], total=int(total))

    async def get_delivery(self, hook_id: str, delivery_id: str) -> DeliveryOut:
        """See `HookStore.get_delivery`."""
        if self._db.unstorable(hook_id):
            raise HookNotFound(hook_id)
        if self._db.unstorable(delivery_id):
            await self.get_hook(hook_id)
            raise DeliveryNotFound(delivery_id)
        params = {"hook_id": hook_id, "delivery_id": delivery_id}
        async with self._db.reading() as conn:
            row = (await conn.execute(_DELIVERY, params)).first()
            if row is None:
                await _require_hook(conn, hook_id)
                raise DeliveryNotFound(delivery_id)
        return _delivery(row)

    async def queue_ping(self, hook_id: str) -> DeliveryOut:
        """See `HookStore.queue_ping`."""
        hook = await self.get_hook(hook_id)
        now = as_utc(self._clock())
        row = _new_delivery(hook_id, None, PING, ping_body(hook), now, queued=False)
        async with self._db.transaction() as conn:
            try:
                await conn.execute(_INSERT_DELIVERY, row)
            except IntegrityError:
                # Its hook was deleted since it was read.
                raise HookNotFound(hook_id) from None
        return DeliveryOut(**{k: v for k, v in row.items() if k in DeliveryOut.model_fields})

    async def redeliver(self, hook_id: str, delivery_id: str) -> DeliveryOut:
        """See `HookStore.redeliver`."""
        if self._db.unstorable(hook_id):
            raise HookNotFound(hook_id)
        if self._db.unstorable(delivery_id):
            await self.get_hook(hook_id)
            raise DeliveryNotFound(delivery_id)
        now = as_utc(self._clock())
        params = {"of_hook": hook_id, "delivery_id": delivery_id, "now": now}
        async with self._db.transaction() as conn:
            row = (await conn.execute(_REDELIVER, params)).first()
            if row is None:
                await _require_hook(conn, hook_id)
                raise DeliveryNotFound(delivery_id)
        return _delivery(row)

    # -- the worker's side ---------------------------------------------------------------

    async def enqueue_deliveries(self, *, limit: int = 1000) -> int:
        """See `HookStore.enqueue_deliveries`."""
        if limit <= 0:
            return 0
        active = await self._db.fetch(_ACTIVE_HOOKS, {})
        by_cursor: dict[int, list[tuple[str, Sequence[str], int]]] = defaultdict(list)
        for hook_id, events, cursor, queued in active:
            if queued < limit:
                by_cursor[int(cursor)].append((hook_id, list(events), limit - queued))
        now = as_utc(self._clock())
        bodies: dict[int, bytes] = {}
        moves: list[tuple[str, int, int, list[dict[str, Any]]]] = []
        for cursor, group in by_cursor.items():
            most = max(room for _, _, room in group)
            events = await self._events.list_events(EventQuery(after=cursor, limit=most))
            for hook_id, wanted, room in group:
                taken = events[:room]
                if not taken:
                    continue
                rows = [
                    _new_delivery(
                        hook_id, event.id, event.type.value, _body(bodies, event), now, queued=True
                    )
                    for event in taken
                    if _wants(wanted, event)
                ]
                moves.append((hook_id, cursor, taken[-1].id, rows))
        if not moves:
            return 0
        return await self._apply(moves)

    async def _apply(self, moves: Sequence[tuple[str, int, int, list[dict[str, Any]]]]) -> int:
        """Move each hook's cursor and insert its deliveries, in one transaction; a hook
        whose cursor is no longer where it was read gets nothing."""
        made = 0
        async with self._db.writing() as conn:
            for hook_id, read, moved, rows in moves:
                params = {"hook_id": hook_id, "read": read, "moved": moved}
                if (await conn.execute(_MOVE_CURSOR, params)).first() is None:
                    continue
                if rows:
                    await conn.execute(_INSERT_DELIVERY, rows)
                    made += len(rows)
        return made

    async def due_deliveries(self, *, limit: int = 100) -> Sequence[DueDelivery]:
        """See `HookStore.due_deliveries`."""
        if limit <= 0:
            return []
        params = {"now": as_utc(self._clock()), "limit": limit}
        due = DUE if self._db.dialect == "sqlite" else DUE_LATERAL
        rows = await self._db.fetch(due, params)
        return [
            DueDelivery(
                id=row[0],
                hook_id=row[1],
                url=row[2],
                secret=bytes(row[3]).decode("utf-8", "surrogatepass"),
                event=row[4],
                event_id=row[5],
                body=bytes(row[6]),
                attempts=row[7],
                created_at=row[8],
            )
            for row in rows
        ]

    async def record_attempt(self, delivery_id: str, result: AttemptResult) -> HookOut:
        """See `HookStore.record_attempt`."""
        if self._db.unstorable(delivery_id):
            raise DeliveryNotFound(delivery_id)
        if result.ok:
            state, next_at = DeliveryState.delivered, None
        elif result.retry_at is not None:
            state, next_at = DeliveryState.pending, as_utc(result.retry_at)
        else:
            state, next_at = DeliveryState.failed, None
        response = result.response[:RESPONSE_SNIPPET]
        if self._db.nul_is_unstorable:
            # An answer is whatever a remote server sent; PostgreSQL text holds no NUL.
            response = response.replace("\x00", "\ufffd")
        at = as_utc(result.at)
        params = {
            "delivery_id": delivery_id,
            "state": state.value,
            "status_code": result.status_code,
            "duration_ms": result.duration_ms,
            "response": response,
            "at": at,
            "next_at": next_at,
        }
        async with self._db.writing() as conn:
            hook_id = (await conn.execute(_RECORD, params)).scalar()
            if hook_id is None:
                raise DeliveryNotFound(delivery_id)
            mark = _SUCCEEDED if result.ok else _FAILED
            row = (await conn.execute(mark, {"hook_id": hook_id, "at": at})).first()
            if state is not DeliveryState.pending:
                # After the mark, which locks the hook's row: on PostgreSQL a concurrent
                # attempt of the same hook waits for this commit and then counts this one.
                await conn.execute(_DROP_FINISHED, {"hook_id": hook_id, "kept": self._kept})
        if row is None:  # pragma: no cover - the foreign key deletes a hook's deliveries
            raise DeliveryNotFound(delivery_id)
        return _hook(row)

    async def hold_delivery_lease(self, owner: str) -> bool:
        """See `HookStore.hold_delivery_lease`."""
        return await self._lease.hold(owner)

    async def release_delivery_lease(self, owner: str) -> None:
        """See `HookStore.release_delivery_lease`."""
        await self._lease.release(owner)


def _body(bodies: dict[int, bytes], event: EventOut) -> bytes:
    body = bodies.get(event.id)
    if body is None:
        body = bodies[event.id] = event_body(event)
    return body


async def _require_hook(conn: AsyncConnection, hook_id: str) -> None:
    if (await conn.execute(_HOOK_EXISTS, {"hook_id": hook_id})).first() is None:
        raise HookNotFound(hook_id)
