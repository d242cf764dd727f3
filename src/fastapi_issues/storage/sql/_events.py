"""The event log of the SQL store: `issue_events`, written in each write's own transaction,
and numbered by the one row of `issue_event_ids`.

Why a counter row rather than a sequence: PostgreSQL hands out sequence values when asked,
not when the asker commits, so a reader could see event 8 before event 7 commits and, going
on after 8, never see 7. Advancing the counter row is instead the write's last step before
its commit, and its row lock is held until that commit: the next writer gets its ids only
once the previous one's events are visible, so ids become visible in their order. Writers
wait on each other only for that commit tail. SQLite serialises writers anyway; it runs the
same statements. The counter is advanced by an upsert, so an empty counter table (a new
database, or one a test emptied) starts again at 1 without a special case.

Live readers are told: in this process once the write commits (`EventWake.written`), and
on PostgreSQL in every process by a NOTIFY on the schema's channel (see `_listen.py`),
sent by the same upsert (`pg_notify` in its RETURNING: no statement more) and delivered
at the commit.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, Text, bindparam, cast, delete, func, literal, select

from fastapi_issues.schemas import EventOut
from fastapi_issues.storage._wake import EventWake
from fastapi_issues.storage.errors import IssueNotFound, StorageError
from fastapi_issues.storage.query import EventPage, EventQuery
from fastapi_issues.storage.rules import EVENT_FIELDS, EventDraft, as_utc
from fastapi_issues.storage.sql._database import SQLConnection, SQLDatabase
from fastapi_issues.storage.sql._listen import wake_channel
from fastapi_issues.storage.sql._schema import EVENT_COLUMNS, issue_event_ids, issue_events
from fastapi_issues.storage.sql._shared import ISSUE_VERSION

_EVENT_FIELDS = tuple(column.name for column in EVENT_COLUMNS)
_validate_event = EventOut.__pydantic_validator__.validate_python
_FIELD_RANK = {name: rank for rank, name in enumerate(EVENT_FIELDS)}

_TIMELINE = (
    select(*EVENT_COLUMNS)
    .where(issue_events.c.issue_id == bindparam("issue_id"))
    .order_by(issue_events.c.id)
    .limit(bindparam("limit", type_=Integer))
    .offset(bindparam("offset", type_=Integer))
)
_TIMELINE_COUNT = (
    select(func.count())
    .select_from(issue_events)
    .where(issue_events.c.issue_id == bindparam("issue_id"))
)
# The read of live readers (the hubs) and of the webhook worker: no filter, so one
# statement, compiled once, on the database's direct path.
_AFTER = (
    select(*EVENT_COLUMNS)
    .where(issue_events.c.id > bindparam("after", type_=Integer))
    .order_by(issue_events.c.id)
    .limit(bindparam("limit", type_=Integer))
)
# The counter, not the newest row: after a prune empties the log, the last id given stays
# the place a live reader starts from.
_LAST_ID = select(func.coalesce(select(issue_event_ids.c.last_id).scalar_subquery(), 0))
_INSERT = issue_events.insert()
_PRUNE = delete(issue_events).where(issue_events.c.created_at < bindparam("before"))


def _advance(db: SQLDatabase) -> Any:
    """The counter's upsert: the row made at `count`, or moved on by `count`; returns the
    last id given out."""
    insert = db.insert_ignoring()
    statement = insert(issue_event_ids).values(id=1, last_id=bindparam("count"))
    returned: list[Any] = [issue_event_ids.c.last_id]
    if db.dialect == "postgresql":
        channel = literal(wake_channel(db.schema), Text)
        returned.append(func.pg_notify(channel, cast(issue_event_ids.c.last_id, Text)))
    return statement.on_conflict_do_update(
        index_elements=[issue_event_ids.c.id],
        set_={"last_id": issue_event_ids.c.last_id + statement.excluded.last_id},
    ).returning(*returned)


def event_row(event: EventOut) -> dict[str, Any]:
    """The one place an event becomes a row of `issue_events`."""
    return {
        "id": event.id,
        "type": event.type.value,
        "issue_id": event.issue_id,
        "actor": event.actor,
        "created_at": event.created_at,
        "changes": None if event.changes is None else dict(event.changes),
        "issue": None if event.issue is None else event.issue.model_dump(mode="json"),
        "comment": None if event.comment is None else event.comment.model_dump(mode="json"),
    }


def _in_field_order(changes: dict[str, Any]) -> dict[str, Any]:
    # JSONB keeps an object's keys in an order of its own; the stores write them in
    # `EVENT_FIELDS` order, and every store returns them so.
    return dict(sorted(changes.items(), key=lambda item: _FIELD_RANK.get(item[0], 0)))


def event_from_row(row: Sequence[Any]) -> EventOut:
    """The one place a row of `EVENT_COLUMNS` becomes an event."""
    fields = dict(zip(_EVENT_FIELDS, row, strict=True))
    if isinstance(fields["changes"], dict):
        fields["changes"] = _in_field_order(fields["changes"])
    try:
        return _validate_event(fields)  # type: ignore[no-any-return]
    except ValueError as exc:
        raise StorageError(f"an event row cannot be read: {exc}") from exc


class EventLog:
    """Records a write's events in its transaction, and reads the log (`EventStore`)."""

    def __init__(self, db: SQLDatabase, wake: EventWake | None = None) -> None:
        self._db = db
        self._advance: Any = None
        self._wake = wake
        # The transactions that recorded events, until they commit (or are dropped).
        self._recorded: weakref.WeakSet[SQLConnection] = weakref.WeakSet()
        if wake is not None:
            db.committed = self._committed

    def _committed(self, conn: SQLConnection) -> None:
        if conn in self._recorded and self._wake is not None:
            self._recorded.discard(conn)
            self._wake.written()

    async def record(
        self,
        conn: SQLConnection,
        drafts: Sequence[EventDraft],
        actor: str | None,
        now: datetime,
    ) -> list[EventOut]:
        """Number `drafts` and insert them on `conn`, inside the caller's transaction: call
        it last before the commit (the counter's lock is held until then)."""
        if not drafts:
            return []
        if self._advance is None:
            self._advance = _advance(self._db)
        last = (await conn.execute(self._advance, {"count": len(drafts)})).scalar_one()
        first = int(last) - len(drafts) + 1
        events = [draft.numbered(first + i, actor, now) for i, draft in enumerate(drafts)]
        await conn.execute(_INSERT, [event_row(event) for event in events])
        self._recorded.add(conn)
        return events

    async def list_events(self, query: EventQuery) -> list[EventOut]:
        """See `EventStore.list_events`."""
        if query.limit <= 0 or (query.types is not None and not query.types):
            return []
        if query.types is None and query.issue_id is None:
            found = await self._db.fetch(_AFTER, {"after": query.after, "limit": query.limit})
            return [event_from_row(row) for row in found]
        statement = select(*EVENT_COLUMNS).where(issue_events.c.id > query.after)
        if query.types is not None:
            statement = statement.where(
                issue_events.c.type.in_(sorted(kind.value for kind in query.types))
            )
        if query.issue_id is not None:
            if self._db.unstorable(query.issue_id):
                return []
            statement = statement.where(issue_events.c.issue_id == query.issue_id)
        statement = statement.order_by(issue_events.c.id).limit(query.limit)
        async with self._db.reading() as conn:
            rows = (await conn.execute(statement)).all()
        return [event_from_row(row) for row in rows]

    async def issue_events(self, issue_id: str, *, offset: int = 0, limit: int = 20) -> EventPage:
        """See `EventStore.issue_events`."""
        if self._db.unstorable(issue_id):
            raise IssueNotFound(issue_id)
        params = {"issue_id": issue_id, "offset": max(offset, 0), "limit": max(limit, 0)}
        async with self._db.reading() as conn:
            if (await conn.execute(ISSUE_VERSION, params)).first() is None:
                raise IssueNotFound(issue_id)
            rows = (await conn.execute(_TIMELINE, params)).all() if limit > 0 else []
            total = (await conn.execute(_TIMELINE_COUNT, params)).scalar_one()
        return EventPage(items=[event_from_row(row) for row in rows], total=int(total))

    async def last_event_id(self) -> int:
        """See `EventStore.last_event_id`."""
        return int((await self._db.fetch(_LAST_ID, {}))[0][0])

    async def prune_events(self, *, before: datetime) -> int:
        """See `EventStore.prune_events`. The counter is left alone: ids are never reused."""
        async with self._db.transaction() as conn:
            return int((await conn.execute(_PRUNE, {"before": as_utc(before)})).rowcount)
