"""The event log the memory and JSON stores keep in the process, and its reads.

Events are kept in id order; each issue's timeline is an index into them, so the reads a
live reader makes (what came after id X) and the timeline never scan the whole log.
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Iterable, Sequence
from datetime import datetime

from fastapi_issues.schemas import EventOut
from fastapi_issues.storage.query import EventPage, EventQuery
from fastapi_issues.storage.rules import EventDraft

__all__ = ["EventLog", "MergedEvents"]


class EventLog:
    """Events in id order, with the highest id ever given (kept when events are pruned,
    so that ids are never reused)."""

    def __init__(self, events: Iterable[EventOut] = (), last_id: int = 0) -> None:
        self._events: list[EventOut] = []
        self._ids: list[int] = []
        self._by_issue: dict[str, list[EventOut]] = {}
        self._ids_by_issue: dict[str, list[int]] = {}
        self.last_id = last_id
        self.extend(events)

    def __len__(self) -> int:
        return len(self._events)

    def number(
        self, drafts: Sequence[EventDraft], actor: str | None, now: datetime
    ) -> list[EventOut]:
        """The drafts numbered after the last id, not yet added (see `extend`)."""
        return [
            draft.numbered(self.last_id + offset, actor, now)
            for offset, draft in enumerate(drafts, start=1)
        ]

    def record(
        self, drafts: Sequence[EventDraft], actor: str | None, now: datetime
    ) -> list[EventOut]:
        """Number the drafts and add them: the events of one write."""
        events = self.number(drafts, actor, now)
        self.extend(events)
        return events

    def extend(self, events: Iterable[EventOut]) -> None:
        """Add events numbered after every one already here."""
        for event in events:
            if self._ids and event.id <= self._ids[-1]:
                raise ValueError(f"event {event.id} is not after {self._ids[-1]}")
            self._events.append(event)
            self._ids.append(event.id)
            if event.issue_id is not None:
                self._by_issue.setdefault(event.issue_id, []).append(event)
                self._ids_by_issue.setdefault(event.issue_id, []).append(event.id)
            self.last_id = max(self.last_id, event.id)

    def select(self, query: EventQuery) -> list[EventOut]:
        """`EventStore.list_events`."""
        if query.limit <= 0:
            return []
        if query.issue_id is not None:
            source: Sequence[EventOut] = self._by_issue.get(query.issue_id, [])
            ids: Sequence[int] = self._ids_by_issue.get(query.issue_id, [])
            start = bisect.bisect_right(ids, query.after)
        else:
            source = self._events
            start = bisect.bisect_right(self._ids, query.after)
        found: list[EventOut] = []
        for event in source[start:]:
            if query.types is None or event.type in query.types:
                found.append(event)
                if len(found) == query.limit:
                    break
        return found

    def timeline(self, issue_id: str, offset: int, limit: int) -> EventPage:
        """One page of an issue's events, oldest first (the caller checks the issue)."""
        mine = self._by_issue.get(issue_id, [])
        start = max(offset, 0)
        return EventPage(items=mine[start : start + max(limit, 0)], total=len(mine))

    def pruned(self, before: datetime) -> tuple[EventLog, int]:
        """A log without the events made before `before`, and how many those were."""
        kept = [event for event in self._events if event.created_at >= before]
        return EventLog(kept, self.last_id), len(self._events) - len(kept)


def _event_id(event: EventOut) -> int:
    return event.id


class MergedEvents:
    """The events of several files (each in id order) as one `EventLog`, those up to a
    visible id only, kept from read to read: a read after a few writes adds their events
    to the log instead of merging every file's whole log again, which made each read of a
    live reader cost as much as the log is long."""

    def __init__(self) -> None:
        self._sources: tuple[Sequence[EventOut], ...] = ()
        self._counts: tuple[int, ...] = ()
        self._visible = -1
        self._log = EventLog()

    def log(self, sources: Sequence[Sequence[EventOut]], visible: int) -> EventLog:
        """The merged log of `sources` up to `visible`. Files' snapshots are replaced, never
        edited: the same sequences and the same visible id mean the same log."""
        unchanged = len(sources) == len(self._sources) and all(
            new is old for new, old in zip(sources, self._sources, strict=True)
        )
        if unchanged and visible == self._visible:
            return self._log
        counts = tuple(bisect.bisect_right(s, visible, key=_event_id) for s in sources)
        if self._only_added(sources, visible):
            tails = [
                source[seen:count]
                for source, seen, count in zip(sources, self._counts, counts, strict=True)
            ]
            self._log.extend(heapq.merge(*tails, key=_event_id))
            self._log.last_id = max(self._log.last_id, visible)
        else:
            merged = heapq.merge(
                *(s[:count] for s, count in zip(sources, counts, strict=True)), key=_event_id
            )
            self._log = EventLog(merged, last_id=visible)
        self._sources, self._counts, self._visible = tuple(sources), counts, visible
        return self._log

    def _only_added(self, sources: Sequence[Sequence[EventOut]], visible: int) -> bool:
        """Whether each file still holds as many events up to the last visible id as it
        did then (none pruned), so the log only needs the rest. Ids are never reused and a
        file only gains events above every id visible before, so the same count means the
        same events."""
        if visible < self._visible or len(sources) != len(self._sources):
            return False
        return all(
            bisect.bisect_right(source, self._visible, key=_event_id) == seen
            for source, seen in zip(sources, self._counts, strict=True)
        )
