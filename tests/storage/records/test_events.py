"""The JSON store's merged event log: what each read sees is the merge of its files' events
up to the visible id, whether the log was extended since the last read or built again."""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from datetime import UTC, datetime

from fastapi_issues.schemas import EventOut, EventType
from fastapi_issues.storage.query import EventQuery
from fastapi_issues.storage.records._events import MergedEvents

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def event(event_id: int, issue: str = "a") -> EventOut:
    return EventOut(id=event_id, type=EventType.ISSUE_UPDATED, issue_id=issue, created_at=NOW)


def events(*ids: int, issue: str = "a") -> tuple[EventOut, ...]:
    return tuple(event(event_id, issue) for event_id in ids)


def ids_of(merged: MergedEvents, sources: Sequence[Sequence[EventOut]], visible: int) -> list[int]:
    return [e.id for e in merged.log(sources, visible).select(EventQuery(limit=10_000))]


def expected(sources: Sequence[Sequence[EventOut]], visible: int) -> list[int]:
    return [e.id for e in heapq.merge(*sources, key=lambda e: e.id) if e.id <= visible]


def test_events_written_since_the_last_read_are_added_in_id_order() -> None:
    merged = MergedEvents()
    issues, comments = events(1, 2, 4), events(3, issue="b")
    assert ids_of(merged, (issues, comments), 4) == [1, 2, 3, 4]

    # New snapshots of both files, with events interleaved across them.
    issues, comments = issues + events(5, 8), comments + events(6, 7, issue="b")
    assert ids_of(merged, (issues, comments), 8) == expected((issues, comments), 8)
    assert merged.log((issues, comments), 8).timeline("b", 0, 10).total == 3
    assert merged.log((issues, comments), 8).last_id == 8


def test_events_above_the_visible_id_wait_until_it_reaches_them() -> None:
    merged = MergedEvents()
    issues, comments = events(1, 2, 5), events(3, 4, issue="b")
    assert ids_of(merged, (issues, comments), 2) == [1, 2]
    assert ids_of(merged, (issues, comments), 4) == [1, 2, 3, 4]
    issues += events(6)
    assert ids_of(merged, (issues, comments), 6) == [1, 2, 3, 4, 5, 6]


def test_a_pruned_or_replaced_file_makes_the_log_again() -> None:
    merged = MergedEvents()
    issues, comments = events(1, 2, 3), events(4, 5, issue="b")
    assert ids_of(merged, (issues, comments), 5) == [1, 2, 3, 4, 5]

    pruned = events(3, 6)  # 1 and 2 pruned, 6 written
    assert ids_of(merged, (pruned, comments), 6) == [3, 4, 5, 6]

    middle_gone = events(6)  # 3 pruned: the same first id would not have shown it
    comments_again = events(4, 5, 7, issue="b")
    assert ids_of(merged, (middle_gone, comments_again), 7) == [4, 5, 6, 7]

    read_again = events(6, 8)  # the same events decoded anew from disk, one more
    assert ids_of(merged, (read_again, comments_again), 8) == [4, 5, 6, 7, 8]


def test_a_visible_id_that_moves_back_shows_only_what_is_below_it() -> None:
    merged = MergedEvents()
    issues = events(1, 2, 3)
    assert ids_of(merged, (issues, ()), 3) == [1, 2, 3]
    assert ids_of(merged, (issues, ()), 2) == [1, 2]
