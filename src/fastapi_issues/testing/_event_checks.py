"""The model-based suite's part for the event log (`EventStore`): the checks after every step
and the rule that prunes. Mixed into `TrackerStateMachine`; a store without an event log
skips all of it.

After every step, the events the store reports after the last id seen must be the model's
new events, equal in everything (type, issue, actor, time, changes, the issue and comment
snapshots) but their ids, which must only grow; the model then takes the store's ids, so
that every later read (the feed with any filter, an issue's timeline) is compared exactly.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule

from fastapi_issues.schemas import EventOut, EventType
from fastapi_issues.storage.errors import StorageError
from fastapi_issues.storage.query import EventQuery
from fastapi_issues.testing._draws import MICROSECOND
from fastapi_issues.testing.model import TrackerModel

__all__ = ["EventChecks"]

T = TypeVar("T")
# More than any one step records: a label on every issue deleted at once stays far below.
_PAGE = 10_000
# Strategies built once: building them for every step is a good part of the suite's time.
_LIMITS = st.sampled_from((1, 2, 5, 100))
_TYPE_FILTERS = st.sampled_from(
    (
        None,
        frozenset({EventType.ISSUE_CREATED}),
        frozenset({EventType.ISSUE_UPDATED, EventType.ISSUE_CLOSED, EventType.ISSUE_REOPENED}),
        frozenset({EventType.ISSUE_LABELED, EventType.ISSUE_UNLABELED}),
        frozenset({EventType.ISSUE_ASSIGNED, EventType.ISSUE_UNASSIGNED}),
        frozenset({EventType.COMMENT_CREATED, EventType.COMMENT_UPDATED}),
        frozenset({EventType.COMMENT_DELETED, EventType.ISSUE_DELETED}),
    )
)
_SHIFTS = st.sampled_from((timedelta(0), MICROSECOND, -MICROSECOND))


def _without_id(event: EventOut) -> dict[str, Any]:
    dumped = event.model_dump()
    del dumped["id"]
    return dumped


class EventChecks:
    """The event rules and checks; `TrackerStateMachine` provides what is declared here."""

    store: Any
    model: TrackerModel
    has_events: bool
    seen_event: int
    known_ids: list[str]
    run: Callable[[Awaitable[Any]], Any]
    attempt: Callable[[Awaitable[Any]], Any]
    agree: Callable[[str, Any, Callable[[], Any]], None]

    def actor_of(self, actor: str | None) -> dict[str, str | None]:
        """The `actor=` keyword for a store with an event log; stores without one may not
        take it."""
        return {"actor": actor} if self.has_events else {}

    @precondition(lambda self: self.has_events)
    @rule(data=st.data(), shift=_SHIFTS)
    def prune_events(self, data: st.DataObject, shift: timedelta) -> None:
        self.confirm_events()  # what the start recorded, before any of it is pruned
        times = sorted({event.created_at for event in self.model.log.events})
        if not times:
            return
        before: datetime = data.draw(st.sampled_from(times), label="prune before") + shift
        self.agree(
            "prune_events",
            self.attempt(self.store.prune_events(before=before)),
            lambda: self.model.prune_events(before),
        )
        self.check_events(data, None)

    def check_events(self, data: st.DataObject, issue_id: str | None) -> None:
        """The step's new events, the newest id, and one random read of the log."""
        self.confirm_events()
        if issue_id is not None and data.draw(st.booleans(), label="read the timeline?"):
            self.check_timeline(data, issue_id)
        else:
            self.check_feed(data)

    def confirm_events(self) -> None:
        """The events the store reports after the last id seen are the model's new ones;
        the model takes their ids."""
        new = self.run(self.store.list_events(EventQuery(after=self.seen_event, limit=_PAGE)))
        expected = self.model.log.unconfirmed_events()
        got = [_without_id(event) for event in new]
        want = [_without_id(event) for event in expected]
        assert got == want, f"new events: the store recorded\n  {got!r}\nthe model\n  {want!r}"
        ids = [event.id for event in new]
        assert ids == sorted(set(ids)), f"event ids {ids} do not grow"
        assert all(i > self.seen_event for i in ids), f"event ids {ids} not after {self.seen_event}"
        self.model.log.adopt_ids(ids)
        if ids:
            self.seen_event = ids[-1]
        newest = self.run(self.store.last_event_id())
        assert newest == self.model.last_event_id(), (
            f"last_event_id() is {newest}, the model's {self.model.last_event_id()}"
        )

    def check_feed(self, data: st.DataObject) -> None:
        events = self.model.log.events
        # Positions, not values: a strategy over the ids would be rebuilt at every step.
        at = data.draw(st.integers(0, len(events)), label="after the nth event")
        after = events[at - 1].id if at else 0
        limit = data.draw(_LIMITS, label="limit")
        types = data.draw(_TYPE_FILTERS, label="types")
        which = data.draw(st.integers(0, len(self.known_ids)), label="of the nth issue")
        issue_id = self.known_ids[which - 1] if which else None
        query = EventQuery(after=after, limit=limit, types=types, issue_id=issue_id)
        got = self.run(self.store.list_events(query))
        _same_events(got, self.model.list_events(after, limit, types, issue_id), str(query))

    def check_timeline(self, data: st.DataObject, issue_id: str) -> None:
        offset = data.draw(st.integers(0, 4), label="offset")
        limit = data.draw(_LIMITS, label="limit")
        outcome = self.attempt(self.store.issue_events(issue_id, offset=offset, limit=limit))
        what = f"issue_events({issue_id!r}, offset={offset}, limit={limit})"
        expected = _outcome(lambda: self.model.issue_events(issue_id, offset, limit))
        if isinstance(outcome, BaseException) or isinstance(expected, BaseException):
            assert type(outcome) is type(expected), f"{what}: {outcome!r}, the model {expected!r}"
            return
        items, total = expected
        assert outcome.total == total, f"{what}: total {outcome.total}, the model's {total}"
        _same_events(outcome.items, items, what)


def _outcome(call: Callable[[], T]) -> T | StorageError:
    try:
        return call()
    except StorageError as exc:
        return exc


def _same_events(actual: Sequence[EventOut], expected: Sequence[EventOut], what: str) -> None:
    # Every event was compared whole when it was new (`confirm_events`), and the model took
    # its id: a read of the log is right when it picks the same events. Comparing them whole
    # again would double the suite's time.
    got = [(event.id, event.type, event.issue_id) for event in actual]
    want = [(event.id, event.type, event.issue_id) for event in expected]
    assert got == want, f"{what}: the store returned\n  {got!r}\nthe model expected\n  {want!r}"
