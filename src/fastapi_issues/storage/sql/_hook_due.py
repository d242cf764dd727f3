"""The SQL stores' read of the deliveries due now (`SQLHooks.due_deliveries`), one statement
per planner, both led from the hooks: SQLite's (without statistics) through `seq IN`,
PostgreSQL's through LATERAL subqueries."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Integer, bindparam, false, func, literal, or_, select, true, tuple_
from sqlalchemy.orm import aliased

from fastapi_issues.schemas import PING, DeliveryState
from fastapi_issues.storage.sql._schema import hook_deliveries, hooks

__all__ = ["DUE", "DUE_LATERAL"]

_PENDING = DeliveryState.pending.value


def _due_columns(row: Any) -> tuple[Any, ...]:
    """The columns of a due row, from `row` (the deliveries' columns, or a subquery's) and
    its hook: `DueDelivery`'s fields, then what the union is ordered by."""
    return (
        row.id,
        row.hook_id,
        hooks.c.url,
        hooks.c.secret,
        row.event,
        row.event_id,
        row.body,
        row.attempts,
        row.created_at,
        row.next_attempt_at,
        row.seq,
    )


def _due_statement() -> Any:
    """Every delivery to attempt now, in one read: per hook, the oldest pending queued one
    (if due), and the pending pings and redeliveries; of active hooks only, but for pings.

    Both halves start from the hooks (a few rows) and reach their deliveries through
    `ix_hook_deliveries_queue`: the head is the first pending queued entry of the hook's
    range, the pings and redeliveries its pending unqueued range. So a backlog of pending
    queued deliveries, thousands when a burst of writes outruns the receivers, is never read
    row by row, as it was when the pending were read through `ix_hook_deliveries_due` and
    each checked against its hook's head.
    """
    deliveries = hook_deliveries.c
    head = aliased(hook_deliveries)
    oldest_queued = (
        select(func.min(head.c.seq))
        .where(head.c.hook_id == hooks.c.id, head.c.queued == true(), head.c.state == _PENDING)
        .correlate(hooks)
        .scalar_subquery()
    )
    columns = _due_columns(deliveries)
    heads = (
        select(*columns)
        .select_from(
            hooks.join(
                hook_deliveries,
                (deliveries.hook_id == hooks.c.id) & (deliveries.seq == oldest_queued),
            )
        )
        .where(hooks.c.active == true(), deliveries.next_attempt_at <= bindparam("now"))
    )
    unqueued = (
        select(head.c.seq)
        .where(head.c.hook_id == hooks.c.id, head.c.queued == false(), head.c.state == _PENDING)
        .correlate(hooks)
    )
    at_once = (
        # `seq IN` the hook's own entries rather than a join on `hook_id`: without
        # statistics SQLite would walk every pending delivery through
        # `ix_hook_deliveries_due` instead of each hook's few unqueued entries.
        select(*columns)
        .select_from(hooks.join(hook_deliveries, deliveries.seq.in_(unqueued)))
        .where(
            deliveries.next_attempt_at <= bindparam("now"),
            or_(hooks.c.active == true(), deliveries.event == PING),
        )
    )
    due = heads.union_all(at_once).subquery("due")
    return (
        select(*list(due.c)[:9])
        .order_by(due.c.next_attempt_at, due.c.seq)
        .limit(bindparam("limit", type_=Integer))
    )


def _due_lateral_statement() -> Any:
    """The same read for PostgreSQL, led from the hooks too, but through LATERAL subqueries:
    the `seq IN` above is no index condition there (it read every delivery), and the walk
    over the pending that replaced it read the whole backlog, 13,000 rows in the bench.

    Per hook, `LIMIT` keeps each subquery a loop of its own over the hook's range of
    `ix_hook_deliveries_queue` (PostgreSQL does not flatten a subquery with a limit into a
    join it might serve with a scan of the table): the head is the range's first pending
    queued entry; the pings and redeliveries, its pending unqueued entries, at most `limit`
    of them by when they are due, as no more can be in the answer.
    """
    deliveries = hook_deliveries.c
    # The deliveries' own columns of a due row (the hook's are read outside the subqueries).
    wanted = [column for column in _due_columns(deliveries) if column.table is hook_deliveries]
    # The first entry of the queue index from where the hook's pending queued range would
    # start, in the index's own order: no other index or the table can give that order
    # without sorting all that follows, so the planner cannot prefer a walk of the primary
    # key from the oldest row (which an ORDER BY seq with equalities allowed, and which
    # reads every finished row before the head). The entry found is the head only if it
    # is still the hook's pending queued range; checked outside the limit.
    range_start = tuple_(hooks.c.id, true(), literal(_PENDING))
    queue_head = (
        select(*wanted, deliveries.queued, deliveries.state)
        .where(tuple_(deliveries.hook_id, deliveries.queued, deliveries.state) >= range_start)
        .order_by(deliveries.hook_id, deliveries.queued, deliveries.state, deliveries.seq)
        .limit(1)
        .lateral("queue_head")
    )
    at_once = (
        select(*wanted)
        .where(
            deliveries.hook_id == hooks.c.id,
            deliveries.queued == false(),
            deliveries.state == _PENDING,
            deliveries.next_attempt_at <= bindparam("now"),
            or_(hooks.c.active == true(), deliveries.event == PING),
        )
        .order_by(deliveries.next_attempt_at, deliveries.seq)
        .limit(bindparam("limit", type_=Integer))
        .lateral("at_once")
    )

    # The head's due time is checked after the limit: a head not due yet holds its queue.
    heads = (
        select(*_due_columns(queue_head.c))
        .select_from(hooks.join(queue_head, true()))
        .where(
            hooks.c.active == true(),
            queue_head.c.hook_id == hooks.c.id,
            queue_head.c.queued == true(),
            queue_head.c.state == _PENDING,
            queue_head.c.next_attempt_at <= bindparam("now"),
        )
    )
    unqueued = select(*_due_columns(at_once.c)).select_from(hooks.join(at_once, true()))
    due = heads.union_all(unqueued).subquery("due")
    return (
        select(*list(due.c)[:9])
        .order_by(due.c.next_attempt_at, due.c.seq)
        .limit(bindparam("limit", type_=Integer))
    )


DUE = _due_statement()
DUE_LATERAL = _due_lateral_statement()
