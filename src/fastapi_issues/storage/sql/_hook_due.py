"""The SQL stores' read of the deliveries due now (`SQLHooks.due_deliveries`), one statement
per planner: SQLite's, without statistics, is led from the hooks; PostgreSQL's plans the
walk over the pending well."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Integer, bindparam, false, func, or_, select, true
from sqlalchemy.orm import aliased

from fastapi_issues.schemas import PING, DeliveryState
from fastapi_issues.storage.sql._schema import hook_deliveries, hooks

__all__ = ["DUE", "DUE_WALK"]

_PENDING = DeliveryState.pending.value


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
    columns = (
        deliveries.id,
        deliveries.hook_id,
        hooks.c.url,
        hooks.c.secret,
        deliveries.event,
        deliveries.event_id,
        deliveries.body,
        deliveries.attempts,
        deliveries.created_at,
        deliveries.next_attempt_at,
        deliveries.seq,
    )
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


def _due_walk_statement() -> Any:
    """The same read for PostgreSQL, whose planner (with statistics) reaches the pending
    through `ix_hook_deliveries_due` and each one's head through `ix_hook_deliveries_queue`;
    the join in `seq IN` above is no index condition there, and it would read every
    delivery."""
    head = aliased(hook_deliveries)
    oldest_queued = (
        select(func.min(head.c.seq))
        .where(
            head.c.hook_id == hook_deliveries.c.hook_id,
            head.c.queued == true(),
            head.c.state == _PENDING,
        )
        .scalar_subquery()
    )
    deliveries = hook_deliveries.c
    return (
        select(
            deliveries.id,
            deliveries.hook_id,
            hooks.c.url,
            hooks.c.secret,
            deliveries.event,
            deliveries.event_id,
            deliveries.body,
            deliveries.attempts,
            deliveries.created_at,
        )
        .select_from(hook_deliveries.join(hooks, hooks.c.id == deliveries.hook_id))
        .where(
            deliveries.state == _PENDING,
            deliveries.next_attempt_at <= bindparam("now"),
            or_(hooks.c.active == true(), deliveries.event == PING),
            or_(deliveries.queued == false(), deliveries.seq == oldest_queued),
        )
        .order_by(deliveries.next_attempt_at, deliveries.seq)
        .limit(bindparam("limit", type_=Integer))
    )


DUE = _due_statement()
DUE_WALK = _due_walk_statement()
