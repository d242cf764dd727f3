"""Who may see an event: the issue policy, applied to the issue the event is about.

An event carrying the issue (`event.issue`, the issue after the change) is visible exactly
when the policy lets the user `read` that issue. An event without one (`issue.deleted`, and
the comment deletions of a deleted issue) is judged on the issue as its latest earlier event
carrying one shows it: what the issue was just before it went. When no such event is left
(pruned), or the event names no issue, it is hidden: a policy that hides issues must not
have their ids leak through the feed. Without a policy every event is visible.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from fastapi_issues.routers._kernel import IssueGate
from fastapi_issues.schemas import EventOut, IssueOut
from fastapi_issues.storage.protocols import EventStore
from fastapi_issues.storage.query import EventQuery

__all__ = ["EventAccess", "visible_page"]

_REMEMBERED = 1000
"""Issues whose latest snapshot one reader remembers (a live stream meets the same ones)."""

_TIMELINE_BATCH = 200


class EventAccess:
    """Answers "may this user see this event?" for one reader (a request, a stream)."""

    def __init__(self, gate: IssueGate, store: EventStore, user: Any) -> None:
        self._gate = gate
        self._store = store
        self._user = user
        self._last_seen: OrderedDict[str, IssueOut] = OrderedDict()

    @property
    def shows_everything(self) -> bool:
        """Whether every event is visible (there is no policy), so none need be asked."""
        return self._gate.policy is None

    async def __call__(self, event: EventOut) -> bool:
        if self._gate.policy is None:
            return True
        issue = event.issue
        if issue is not None:
            self._remember(issue)
        elif event.issue_id is not None:
            issue = await self._last_snapshot(event.issue_id, event.id)
        if issue is None:
            return False
        return await self._gate.allowed(self._user, "read", issue)

    def _remember(self, issue: IssueOut) -> None:
        self._last_seen[issue.id] = issue
        self._last_seen.move_to_end(issue.id)
        if len(self._last_seen) > _REMEMBERED:
            self._last_seen.popitem(last=False)

    async def _last_snapshot(self, issue_id: str, before: int) -> IssueOut | None:
        known = self._last_seen.get(issue_id)
        if known is not None:
            return known
        # The issue is gone (its timeline route 404s): read its events from the log.
        latest: IssueOut | None = None
        after = 0
        while True:
            batch = await self._store.list_events(
                EventQuery(after=after, limit=_TIMELINE_BATCH, issue_id=issue_id)
            )
            for event in batch:
                if event.id >= before:
                    return latest
                if event.issue is not None:
                    latest = event.issue
            if len(batch) < _TIMELINE_BATCH:
                return latest
            after = batch[-1].id


async def visible_page(
    store: EventStore, query: EventQuery, limit: int, visible: EventAccess, *, scan: int
) -> tuple[list[EventOut], int]:
    """Up to `limit` visible events after `query.after`, reading on past hidden ones (at most
    `scan`), and the id of the last event read (where the next page starts)."""
    found: list[EventOut] = []
    last = query.after
    scanned = 0
    while len(found) < limit and scanned < scan:
        batch = await store.list_events(query)
        for event in batch:
            if await visible(event):
                found.append(event)
            last = event.id
            if len(found) == limit:
                return found, last
        scanned += len(batch)
        if len(batch) < query.limit:
            break
        query = EventQuery(
            after=last, limit=query.limit, types=query.types, issue_id=query.issue_id
        )
    return found, last
