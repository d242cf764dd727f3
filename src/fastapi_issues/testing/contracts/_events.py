"""The contract of an `EventStore`: the event log every write records."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest

from fastapi_issues.schemas import (
    CommentCreate,
    CommentUpdate,
    EventOut,
    EventType,
    IssueOut,
    IssueStatus,
    IssueUpdate,
    LabelCreate,
    LabelUpdate,
    StateReason,
)
from fastapi_issues.storage.errors import (
    CommentVersionConflict,
    IssueNotFound,
    LabelNotFound,
    VersionConflict,
)
from fastapi_issues.storage.protocols import EventStore
from fastapi_issues.storage.query import EventQuery
from fastapi_issues.testing.contracts._base import StoreContract, draft

__all__ = ["EventStoreContract"]

E = EventType


async def _all(store: Any, after: int = 0) -> Sequence[EventOut]:
    events: Sequence[EventOut] = await store.list_events(EventQuery(after=after, limit=10_000))
    return events


async def _new(store: Any, after: int) -> list[tuple[EventType, str | None]]:
    return [(event.type, event.actor) for event in await _all(store, after)]


class EventStoreContract(StoreContract):
    """Contract tests for an `EventStore` that is also a `TrackerStore` (every write takes
    `actor=`). Override the `store` fixture."""

    async def test_store_satisfies_the_event_protocol(self, store: Any) -> None:
        assert isinstance(store, EventStore)

    async def test_an_empty_log(self, store: Any) -> None:
        assert await store.last_event_id() == 0
        assert list(await _all(store)) == []

    async def test_creating_records_the_issue_and_the_reporter(self, store: Any) -> None:
        issue = await store.create(draft("Crash"), reporter="ada")
        [event] = await _all(store)
        assert event.id > 0
        assert (event.type, event.issue_id, event.actor, event.changes) == (
            E.ISSUE_CREATED,
            issue.id,
            "ada",
            None,
        )
        assert event.issue == issue
        assert event.created_at == issue.created_at
        assert await store.last_event_id() == event.id

    async def test_an_update_records_what_changed(self, store: Any) -> None:
        issue = await store.create(draft("Crash"))
        seen = await store.last_event_id()
        updated = await store.update(issue.id, IssueUpdate(title="Crash on start"), actor="bob")
        [event] = await _all(store, seen)
        assert (event.type, event.actor) == (E.ISSUE_UPDATED, "bob")
        assert event.changes == {"title": {"from": "Crash", "to": "Crash on start"}}
        assert event.issue == updated
        assert event.created_at == updated.updated_at

    async def test_an_update_that_changes_nothing_records_nothing(self, store: Any) -> None:
        issue = await store.create(draft("Crash"))
        seen = await store.last_event_id()
        await store.update(issue.id, IssueUpdate(title="Crash"), actor="bob")
        assert await _new(store, seen) == []
        assert await store.last_event_id() == seen

    async def test_closing_and_reopening(self, store: Any) -> None:
        issue = await store.create(draft())
        seen = await store.last_event_id()
        closing = IssueUpdate(status=IssueStatus.closed, state_reason=StateReason.not_planned)
        await store.update(issue.id, closing, actor="ada")
        await store.update(issue.id, IssueUpdate(state_reason=StateReason.duplicate))
        await store.update(issue.id, IssueUpdate(status=IssueStatus.open), actor="bob")
        closed, reason, reopened = await _all(store, seen)
        assert (closed.type, closed.actor) == (E.ISSUE_CLOSED, "ada")
        assert closed.changes == {
            "status": {"from": "open", "to": "closed"},
            "state_reason": {"from": None, "to": "not_planned"},
        }
        assert closed.issue is not None
        assert closed.issue.closed_by == "ada"
        assert (reason.type, reason.actor) == (E.ISSUE_UPDATED, None)
        assert reason.changes == {"state_reason": {"from": "not_planned", "to": "duplicate"}}
        assert (reopened.type, reopened.actor) == (E.ISSUE_REOPENED, "bob")
        assert reopened.changes == {
            "status": {"from": "closed", "to": "open"},
            "state_reason": {"from": "duplicate", "to": None},
        }

    async def test_one_write_of_several_kinds_records_one_event_each(self, store: Any) -> None:
        issue = await store.create(draft(assignees=["bob"]))
        seen = await store.last_event_id()
        changes = IssueUpdate(title="New", status=IssueStatus.closed, assignees=["ada"])
        after = await store.update(issue.id, changes, actor="ada")
        events = await _all(store, seen)
        assert [event.type for event in events] == [
            E.ISSUE_UPDATED,
            E.ISSUE_CLOSED,
            E.ISSUE_ASSIGNED,
            E.ISSUE_UNASSIGNED,
        ]
        ids = [event.id for event in events]
        assert ids == list(range(ids[0], ids[0] + 4)), "one write's events are consecutive"
        assert {event.created_at for event in events} == {after.updated_at}
        assert all(event.issue == after for event in events)
        assert events[2].changes == {"assignees": {"from": ["bob"], "to": ["ada"]}}

    async def test_labels_on_issues(self, store: Any) -> None:
        for name in ("bug", "ui"):
            await store.create_label(LabelCreate(name=name))
        issue = await store.create(draft())
        seen = await store.last_event_id()
        await store.add_issue_labels(issue.id, ["bug"], actor="ada")
        after = await store.set_issue_labels(issue.id, ["ui"], actor="bob")
        await store.remove_issue_labels(issue.id, ["bug"], actor="bob")  # not there: nothing
        labeled, relabeled, unlabeled = await _all(store, seen)
        assert (labeled.type, labeled.actor) == (E.ISSUE_LABELED, "ada")
        assert labeled.changes == {"labels": {"from": [], "to": ["bug"]}}
        assert (relabeled.type, unlabeled.type) == (E.ISSUE_LABELED, E.ISSUE_UNLABELED)
        assert relabeled.changes == unlabeled.changes == {"labels": {"from": ["bug"], "to": ["ui"]}}
        assert unlabeled.issue == after

    async def test_deleting_a_label_unlabels_each_issue_renaming_records_nothing(
        self, store: Any
    ) -> None:
        await store.create_label(LabelCreate(name="bug"))
        first, second, _bare = [await store.create(draft(f"Issue {n}")) for n in range(3)]
        for issue in (first, second):
            await store.add_issue_labels(issue.id, ["bug"])
        seen = await store.last_event_id()
        await store.update_label("bug", LabelUpdate(name="defect"))
        assert await _new(store, seen) == []
        await store.delete_label("defect", actor="ada")
        events = await _all(store, seen)
        assert [(e.type, e.issue_id, e.actor) for e in events] == [
            (E.ISSUE_UNLABELED, first.id, "ada"),
            (E.ISSUE_UNLABELED, second.id, "ada"),
        ]
        assert events[0].changes == {"labels": {"from": ["defect"], "to": []}}
        assert events[0].issue is not None
        assert events[0].issue.labels == []

    async def test_deleting_an_issue(self, store: Any) -> None:
        issue = await store.create(draft())
        await store.create_comment(issue.id, CommentCreate(body="Hi"))
        seen = await store.last_event_id()
        await store.delete(issue.id, actor="ada")
        [deleted] = await _all(store, seen)
        assert (deleted.type, deleted.issue_id, deleted.actor, deleted.issue) == (
            E.ISSUE_DELETED,
            issue.id,
            "ada",
            None,
        )
        with pytest.raises(IssueNotFound):
            await store.issue_events(issue.id)
        # The feed keeps what happened to it.
        assert next(e.type for e in await _all(store)) == E.ISSUE_CREATED

    async def test_comments(self, store: Any) -> None:
        issue = await store.create(draft())
        seen = await store.last_event_id()
        comment = await store.create_comment(issue.id, CommentCreate(body="Hi"), author="ada")
        await store.update_comment(issue.id, comment.id, CommentUpdate(body="Hi"), actor="ada")
        edited = await store.update_comment(
            issue.id, comment.id, CommentUpdate(body="Hello"), actor="bob"
        )
        await store.delete_comment(issue.id, comment.id, actor="eve")
        created, updated, deleted = await _all(store, seen)
        assert (created.type, created.actor, created.comment) == (E.COMMENT_CREATED, "ada", comment)
        assert created.issue is not None
        assert created.issue.comment_count == 1
        assert (updated.type, updated.actor, updated.comment) == (E.COMMENT_UPDATED, "bob", edited)
        assert updated.changes == {"body": {"from": "Hi", "to": "Hello"}}
        assert (deleted.type, deleted.actor, deleted.comment) == (E.COMMENT_DELETED, "eve", edited)
        assert deleted.issue is not None
        assert deleted.issue.comment_count == 0
        assert {e.issue_id for e in (created, updated, deleted)} == {issue.id}

    async def test_a_failed_write_records_nothing(self, store: Any) -> None:
        issue = await store.create(draft())
        comment = await store.create_comment(issue.id, CommentCreate(body="Hi"))
        seen = await store.last_event_id()
        with pytest.raises(VersionConflict):
            await store.update(issue.id, IssueUpdate(title="New"), expected_version=9)
        with pytest.raises(LabelNotFound):
            await store.add_issue_labels(issue.id, ["nope"], actor="ada")
        with pytest.raises(VersionConflict):
            await store.delete(issue.id, expected_version=9, actor="ada")
        with pytest.raises(IssueNotFound):
            await store.update("missing", IssueUpdate(title="New"), actor="ada")
        with pytest.raises(CommentVersionConflict):
            await store.update_comment(
                issue.id, comment.id, CommentUpdate(body="No"), expected_version=9, actor="ada"
            )
        with pytest.raises(LabelNotFound):
            await store.delete_label("nope", actor="ada")
        assert await _new(store, seen) == []
        assert await store.last_event_id() == seen

    async def test_ids_grow_and_the_feed_pages_after_an_id(self, store: Any) -> None:
        issues = [await store.create(draft(f"Issue {n}")) for n in range(5)]
        events = await _all(store)
        ids = [event.id for event in events]
        assert ids == sorted(set(ids))
        assert len(ids) == 5
        assert [e.issue_id for e in events] == [i.id for i in issues]
        page = await store.list_events(EventQuery(after=ids[1], limit=2))
        assert [e.id for e in page] == ids[2:4]
        assert list(await store.list_events(EventQuery(after=ids[-1]))) == []

    async def test_filters(self, store: Any) -> None:
        first, second = await store.create(draft("Issue A")), await store.create(draft("Issue B"))
        await store.update(first.id, IssueUpdate(status=IssueStatus.closed))
        await store.create_comment(second.id, CommentCreate(body="Hi"))
        of_second = await store.list_events(EventQuery(issue_id=second.id))
        assert [e.type for e in of_second] == [E.ISSUE_CREATED, E.COMMENT_CREATED]
        types = frozenset({E.ISSUE_CLOSED, E.COMMENT_CREATED})
        chosen = await store.list_events(EventQuery(types=types))
        assert [(e.type, e.issue_id) for e in chosen] == [
            (E.ISSUE_CLOSED, first.id),
            (E.COMMENT_CREATED, second.id),
        ]
        both = await store.list_events(EventQuery(types=types, issue_id=first.id, limit=1))
        assert [e.type for e in both] == [E.ISSUE_CLOSED]
        assert list(await store.list_events(EventQuery(issue_id="missing"))) == []

    async def test_the_timeline_pages_oldest_first(self, store: Any) -> None:
        issue = await store.create(draft())
        other = await store.create(draft())
        for n in range(4):
            await store.update(issue.id, IssueUpdate(title=f"Title {n}"))
        await store.update(other.id, IssueUpdate(title="Other"))
        page = await store.issue_events(issue.id, offset=1, limit=2)
        assert page.total == 5
        assert [e.changes["title"]["to"] for e in page.items if e.changes] == [
            "Title 0",
            "Title 1",
        ]
        whole = await store.issue_events(issue.id, limit=100)
        assert [e.type for e in whole.items] == [E.ISSUE_CREATED] + [E.ISSUE_UPDATED] * 4
        assert (await store.issue_events(issue.id, offset=5)).items == []
        with pytest.raises(IssueNotFound):
            await store.issue_events("missing")

    async def test_importing_records_nothing(self, store: Any) -> None:
        issue = await store.create(draft())
        seen = await store.last_event_id()
        copied: IssueOut = issue.model_copy(update={"id": "00000000-0000-4000-8000-000000000001"})
        if hasattr(store, "import_issues"):
            await store.import_issues([copied])
        assert await _new(store, seen) == []

    async def test_prune_and_ids_are_never_reused(self, store: Any) -> None:
        issue = await store.create(draft())
        for n in range(3):
            await store.update(issue.id, IssueUpdate(title=f"Title {n}"))
        events = list(await _all(store))
        cut = events[2].created_at
        older = sum(1 for e in events if e.created_at < cut)
        newest = await store.last_event_id()
        assert await store.prune_events(before=cut) == older
        assert [e.id for e in await _all(store)] == [e.id for e in events if e.created_at >= cut]
        assert await store.last_event_id() == newest
        everything = events[-1].created_at + timedelta(days=1)
        assert await store.prune_events(before=everything) == len(events) - older
        assert list(await _all(store)) == []
        assert await store.last_event_id() == newest
        await store.update(issue.id, IssueUpdate(title="After the prune"), actor="ada")
        [after] = await _all(store)
        assert after.id > newest
        assert (await store.issue_events(issue.id)).total == 1

    async def test_a_waiter_wakes_when_a_write_records_an_event(self, store: Any) -> None:
        seen = await store.last_event_id()
        waiter = asyncio.create_task(store.wait_for_events(seen))
        await asyncio.sleep(0.01)
        assert not waiter.done()
        await store.create(draft("Crash"))
        async with asyncio.timeout(1):
            await waiter

    async def test_waiting_returns_at_once_when_newer_events_are_there(self, store: Any) -> None:
        await store.create(draft("Crash"))
        async with asyncio.timeout(1):
            await store.wait_for_events(0)

    async def test_waiting_with_nothing_new_waits(self, store: Any) -> None:
        await store.create(draft("Crash"))
        seen = await store.last_event_id()
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.2):
                await store.wait_for_events(seen)
