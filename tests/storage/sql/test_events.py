"""The SQL stores' event log: every write's events in its own transaction, numbered in the
order they become visible, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import random
import sqlite3
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.dialects import sqlite

from fastapi_issues.schemas import (
    CommentCreate,
    CommentUpdate,
    EventOut,
    EventType,
    IssueCreate,
    IssueOut,
    IssueUpdate,
    LabelCreate,
    LabelUpdate,
)
from fastapi_issues.storage.errors import (
    DuplicateLabel,
    IssueNotFound,
    LabelNotFound,
    StorageError,
    VersionConflict,
)
from fastapi_issues.storage.protocols import EventStore
from fastapi_issues.storage.query import EventQuery
from fastapi_issues.storage.sql import SQLIssueStore, _events
from fastapi_issues.storage.sql._schema import issue_events, issues

pytestmark = pytest.mark.anyio

T0 = datetime(2030, 5, 1, 12, 0, tzinfo=UTC)


class SteppingClock:
    """A clock that moves on by one second per reading, unless told the time."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def where(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str | None]:
    """A SQLite file, or a PostgreSQL schema of this test's own: (url, schema)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'issues.db'}", None
    return request.getfixturevalue("postgres_url"), request.getfixturevalue("postgres_schema")


@pytest.fixture
def clock() -> SteppingClock:
    return SteppingClock()


@pytest.fixture
async def store(
    where: tuple[str, str | None], clock: SteppingClock
) -> AsyncIterator[SQLIssueStore]:
    url, schema = where
    store = SQLIssueStore(url, schema=schema, clock=clock)
    await store.create_schema()
    yield store
    await store.aclose()


def _new(title: str = "An issue", **fields: Any) -> IssueCreate:
    return IssueCreate(title=title, description="Something broke", **fields)


async def _all(store: SQLIssueStore) -> list[EventOut]:
    return list(await store.list_events(EventQuery(limit=10_000)))


def _kinds(events: Sequence[EventOut]) -> list[tuple[str, str | None]]:
    return [(event.type.value, event.actor) for event in events]


# -- what each write records ---------------------------------------------------------------


async def test_the_store_is_an_event_store_with_an_empty_log(store: SQLIssueStore) -> None:
    assert isinstance(store, EventStore)
    assert await store.last_event_id() == 0
    assert await _all(store) == []


async def test_issue_writes_record_their_events(store: SQLIssueStore) -> None:
    issue = await store.create(_new(assignees=["ada"]), reporter="ada")
    [created] = await _all(store)
    assert (created.id, created.type, created.actor) == (1, EventType.ISSUE_CREATED, "ada")
    assert (created.issue, created.changes, created.comment) == (issue, None, None)
    assert created.created_at == issue.created_at

    changed = await store.update(
        issue.id,
        IssueUpdate(
            title="A new title",
            status="closed",
            state_reason="completed",
            assignees=["grace"],
        ),
        actor="bob",
    )
    events = (await _all(store))[1:]
    assert _kinds(events) == [
        ("issue.updated", "bob"),
        ("issue.closed", "bob"),
        ("issue.assigned", "bob"),
        ("issue.unassigned", "bob"),
    ]
    # One write: consecutive ids, one time (the update's), the issue as it now is.
    assert [event.id for event in events] == [2, 3, 4, 5]
    assert {event.created_at for event in events} == {changed.updated_at}
    assert all(event.issue == changed for event in events)
    assert events[0].changes == {"title": {"from": "An issue", "to": "A new title"}}
    assert events[1].changes == {
        "status": {"from": "open", "to": "closed"},
        "state_reason": {"from": None, "to": "completed"},
    }
    assert events[2].changes == {"assignees": {"from": ["ada"], "to": ["grace"]}}

    reopened = await store.update(issue.id, IssueUpdate(status="open"), actor="carol")
    [event] = (await _all(store))[5:]
    assert (event.type, event.actor, event.issue) == (EventType.ISSUE_REOPENED, "carol", reopened)

    await store.delete(issue.id, actor="dave")
    [deleted] = (await _all(store))[6:]
    assert (deleted.type, deleted.issue_id, deleted.actor) == (
        EventType.ISSUE_DELETED,
        issue.id,
        "dave",
    )
    assert (deleted.issue, deleted.changes) == (None, None)
    assert await store.last_event_id() == 7


async def test_changes_come_back_in_the_fields_order(store: SQLIssueStore) -> None:
    """PostgreSQL's JSONB keeps keys shortest first; the events keep `EVENT_FIELDS` order."""
    issue = await store.create(_new())
    await store.update(issue.id, IssueUpdate(description="Another text", priority="high"))
    [event] = await store.list_events(EventQuery(after=1))
    assert list(event.changes or {}) == ["description", "priority"]


async def test_label_edits_record_labeled_and_unlabeled(store: SQLIssueStore) -> None:
    for name in ("bug", "ui", "docs"):
        await store.create_label(LabelCreate(name=name, color="ededed"))
    issue = await store.create(_new())
    labelled = await store.set_issue_labels(issue.id, ["bug", "ui"], actor="ada")
    swapped = await store.set_issue_labels(issue.id, ["ui", "docs"], actor="bob")
    added = await store.add_issue_labels(issue.id, ["bug"], actor="carol")
    removed = await store.remove_issue_labels(issue.id, ["docs", "ui"], actor="dave")
    events = (await _all(store))[1:]
    assert _kinds(events) == [
        ("issue.labeled", "ada"),
        ("issue.labeled", "bob"),
        ("issue.unlabeled", "bob"),
        ("issue.labeled", "carol"),
        ("issue.unlabeled", "dave"),
    ]
    assert [event.issue for event in events] == [labelled, swapped, swapped, added, removed]
    assert events[1].changes == {"labels": {"from": ["bug", "ui"], "to": ["docs", "ui"]}}
    assert {events[1].created_at} == {events[2].created_at} == {swapped.updated_at}


async def test_comment_writes_record_their_events(store: SQLIssueStore) -> None:
    issue = await store.create(_new())
    comment = await store.create_comment(issue.id, CommentCreate(body="Seen it"), author="ada")
    edited = await store.update_comment(
        issue.id, comment.id, CommentUpdate(body="Fixed it"), actor="bob"
    )
    await store.delete_comment(issue.id, comment.id, actor="carol")
    created, updated, deleted = (await _all(store))[1:]
    assert _kinds([created, updated, deleted]) == [
        ("comment.created", "ada"),
        ("comment.updated", "bob"),
        ("comment.deleted", "carol"),
    ]
    assert (created.comment, created.issue_id, created.created_at) == (
        comment,
        issue.id,
        comment.created_at,
    )
    # The issue as the write left it: counting the comment, then not.
    assert created.issue is not None
    assert created.issue.comment_count == 1
    assert updated.comment == edited
    assert updated.changes == {"body": {"from": "Seen it", "to": "Fixed it"}}
    assert deleted.comment == edited  # as it was
    assert deleted.issue == await store.get(issue.id)
    assert deleted.issue is not None
    assert deleted.issue.comment_count == 0


async def test_writes_that_change_nothing_record_nothing(store: SQLIssueStore) -> None:
    await store.create_label(LabelCreate(name="bug", color="ededed"))
    issue = await store.create(_new())
    comment = await store.create_comment(issue.id, CommentCreate(body="Same"))
    last = await store.last_event_id()
    await store.update(issue.id, IssueUpdate(title=issue.title), actor="ada")
    await store.update_comment(issue.id, comment.id, CommentUpdate(body="Same"), actor="ada")
    await store.remove_issue_labels(issue.id, ["bug"], actor="ada")
    assert await store.last_event_id() == last
    # Renaming a label changes no issue.
    await store.add_issue_labels(issue.id, ["bug"])
    last = await store.last_event_id()
    await store.update_label("bug", LabelUpdate(name="Bug", color="000000"))
    assert await store.last_event_id() == last


async def test_imports_record_nothing(store: SQLIssueStore) -> None:
    issue = IssueOut.model_validate(
        {
            **(await store.create(_new())).model_dump(),
            "id": "imported-1",
        }
    )
    before = await store.last_event_id()
    assert await store.import_issues([issue]) == 1
    assert await store.last_event_id() == before


async def test_deleting_a_label_unlabels_every_issue_that_carried_it(
    store: SQLIssueStore,
) -> None:
    await store.create_label(LabelCreate(name="Bug", color="ededed"))
    await store.create_label(LabelCreate(name="ui", color="ededed"))
    first = await store.create(_new("First one"))
    first = await store.set_issue_labels(first.id, ["bug", "ui"])
    await store.create(_new("Not labelled"))
    second = await store.create(_new("Second one"))
    second = await store.set_issue_labels(second.id, ["bug"])
    last = await store.last_event_id()
    await store.delete_label("BUG", actor="admin")
    events = await store.list_events(EventQuery(after=last))
    assert _kinds(events) == [("issue.unlabeled", "admin"), ("issue.unlabeled", "admin")]
    # Oldest issue first, each as it now is (versions unchanged: the label went, not the issue).
    assert [event.issue for event in events] == [
        await store.get(first.id),
        await store.get(second.id),
    ]
    assert [event.issue.version for event in events if event.issue] == [
        first.version,
        second.version,
    ]
    assert [event.changes for event in events] == [
        {"labels": {"from": ["Bug", "ui"], "to": ["ui"]}},
        {"labels": {"from": ["Bug"], "to": []}},
    ]
    assert events[0].created_at == events[1].created_at
    assert [event.id for event in events] == [last + 1, last + 2]


@pytest.mark.postgres
async def test_a_label_linked_while_it_is_deleted_is_unlabeled_on_record(
    postgres_url: str, postgres_schema: str
) -> None:
    """An edit linking the label commits while the delete runs: the delete waits for it
    and records its issue too, where the cascade would have unlinked it unrecorded."""
    store = SQLIssueStore(postgres_url, schema=postgres_schema)
    try:
        label = await store.create_label(LabelCreate(name="bug", color="ededed"))
        issue = await store.create(_new())
        async with store.engine.connect() as other:
            await other.begin()
            await other.exec_driver_sql(
                f'INSERT INTO "{postgres_schema}".issue_labels VALUES ($1, $2)',
                (issue.id, label.id),
            )
            deleting = asyncio.create_task(store.delete_label("bug", actor="admin"))
            await asyncio.sleep(0.5)
            assert not deleting.done()  # waiting for the link's transaction
            await other.commit()
        await asyncio.wait_for(deleting, timeout=10)
        [event] = await store.list_events(EventQuery(after=1))
        assert (event.type, event.issue_id, event.actor) == (
            EventType.ISSUE_UNLABELED,
            issue.id,
            "admin",
        )
        assert event.changes == {"labels": {"from": ["bug"], "to": []}}
    finally:
        await store.aclose()


async def test_deleting_an_issue_records_one_event_and_keeps_its_history(
    store: SQLIssueStore,
) -> None:
    issue = await store.create(_new())
    for body in ("One", "Two"):
        await store.create_comment(issue.id, CommentCreate(body=body))
    await store.delete(issue.id, expected_version=issue.version)
    events = await _all(store)
    assert [event.type for event in events] == [
        EventType.ISSUE_CREATED,
        EventType.COMMENT_CREATED,
        EventType.COMMENT_CREATED,
        EventType.ISSUE_DELETED,
    ]
    # The feed keeps a deleted issue's events; its timeline goes with it.
    assert len(await store.list_events(EventQuery(issue_id=issue.id))) == 4
    with pytest.raises(IssueNotFound):
        await store.issue_events(issue.id)


# -- a failed write records nothing ------------------------------------------------------


async def test_failed_writes_record_nothing(store: SQLIssueStore) -> None:
    await store.create_label(LabelCreate(name="bug", color="ededed"))
    issue = await store.create(_new())
    comment = await store.create_comment(issue.id, CommentCreate(body="First"))
    last = await store.last_event_id()
    stale = issue.version + 5
    with pytest.raises(VersionConflict):
        await store.update(issue.id, IssueUpdate(title="Never"), expected_version=stale)
    with pytest.raises(VersionConflict):
        await store.delete(issue.id, expected_version=stale)
    with pytest.raises(VersionConflict):
        await store.set_issue_labels(issue.id, ["bug"], expected_version=stale)
    # The issue's version was bumped in the same transaction, then rolled back with it.
    with pytest.raises(LabelNotFound):
        await store.set_issue_labels(issue.id, ["bug", "missing"])
    with pytest.raises(StorageError):
        await store.update_comment(
            issue.id, comment.id, CommentUpdate(body="Never"), expected_version=9
        )
    with pytest.raises(IssueNotFound):
        await store.create_comment("no-such-issue", CommentCreate(body="Lost"))
    with pytest.raises(IssueNotFound):
        await store.delete("no-such-issue")
    with pytest.raises(LabelNotFound):
        await store.delete_label("missing")
    with pytest.raises(DuplicateLabel):
        await store.create_label(LabelCreate(name="BUG", color="ededed"))
    assert await store.last_event_id() == last
    assert await store.get(issue.id) == issue.model_copy(update={"comment_count": 1})


async def test_a_write_whose_event_cannot_be_stored_is_not_made(store: SQLIssueStore) -> None:
    """The change and its events are one transaction: an event row the database refuses
    (here an id already taken, put there behind the store's back) undoes the change."""
    issue = await store.create(_new())
    async with store.engine.begin() as conn:
        row = {"id": 2, "type": "issue.updated", "created_at": T0}
        await conn.execute(issue_events.insert(), row)
    with pytest.raises(StorageError):
        await store.update(issue.id, IssueUpdate(title="Never stored"))
    assert await store.get(issue.id) == issue
    with pytest.raises(StorageError):
        await store.create(_new("Never created"))
    async with store.engine.connect() as conn:
        count = (await conn.execute(select(func.count()).select_from(issues))).scalar_one()
    assert count == 1


# -- reading the log -----------------------------------------------------------------------


async def test_the_feed_filters_by_type_and_issue_and_pages_by_id(store: SQLIssueStore) -> None:
    first = await store.create(_new("First one"))
    second = await store.create(_new("Second one"))
    await store.update(first.id, IssueUpdate(status="closed"))
    await store.create_comment(second.id, CommentCreate(body="Hello"))
    await store.update(second.id, IssueUpdate(priority="high"))
    everything = await _all(store)
    assert [event.id for event in everything] == [1, 2, 3, 4, 5]
    assert [e.id for e in await store.list_events(EventQuery(after=2, limit=2))] == [3, 4]
    assert await store.list_events(EventQuery(after=5)) == []
    assert await store.list_events(EventQuery(limit=0)) == []
    by_issue = await store.list_events(EventQuery(issue_id=second.id))
    assert [event.id for event in by_issue] == [2, 4, 5]
    only = await store.list_events(
        EventQuery(types=frozenset({EventType.ISSUE_CLOSED, EventType.COMMENT_CREATED}))
    )
    assert [event.id for event in only] == [3, 4]
    both = await store.list_events(
        EventQuery(after=1, types=frozenset({EventType.ISSUE_CREATED}), issue_id=second.id)
    )
    assert [event.id for event in both] == [2]
    assert await store.list_events(EventQuery(types=frozenset())) == []
    assert await store.list_events(EventQuery(issue_id="nobody\x00")) == []


async def test_the_timeline_pages_one_issue_oldest_first(store: SQLIssueStore) -> None:
    issue = await store.create(_new())
    other = await store.create(_new("Another one"))
    for n in range(4):
        await store.create_comment(issue.id, CommentCreate(body=f"Note {n}"))
    await store.create_comment(other.id, CommentCreate(body="Elsewhere"))
    page = await store.issue_events(issue.id, offset=1, limit=2)
    assert page.total == 5
    assert [event.comment.body for event in page.items if event.comment] == ["Note 0", "Note 1"]
    everything = await store.issue_events(issue.id, limit=100)
    assert [event.id for event in everything.items] == sorted(e.id for e in everything.items)
    assert everything.items[0].type == EventType.ISSUE_CREATED
    empty = await store.issue_events(issue.id, offset=10)
    assert (empty.items, empty.total) == ([], 5)
    for missing in ("no-such-issue", "bad\x00id"):
        with pytest.raises(IssueNotFound):
            await store.issue_events(missing)


async def test_pruning_deletes_older_events_and_ids_are_never_reused(
    store: SQLIssueStore, clock: SteppingClock, where: tuple[str, str | None]
) -> None:
    issue = await store.create(_new())
    await store.update(issue.id, IssueUpdate(title="Second title"))
    cut = clock.now + timedelta(microseconds=1)
    await store.update(issue.id, IssueUpdate(title="Third title"))
    assert await store.prune_events(before=cut) == 2
    assert [event.id for event in await _all(store)] == [3]
    assert await store.prune_events(before=cut) == 0
    # A naive time is read as UTC, as the stores read every time.
    assert (
        await store.prune_events(before=(clock.now + timedelta(days=1)).replace(tzinfo=None)) == 1
    )
    assert await store.last_event_id() == 3  # the last id given, though the log is empty
    await store.update(issue.id, IssueUpdate(title="Fourth title"))
    assert [event.id for event in await _all(store)] == [4]
    # Nor after a restart.
    url, schema = where
    again = SQLIssueStore(url, schema=schema, clock=clock)
    try:
        await again.prune_events(before=clock.now + timedelta(days=1))
        await again.update(issue.id, IssueUpdate(title="Fifth title"))
        assert [event.id for event in await _all(again)] == [5]
    finally:
        await again.aclose()


# -- ids in the order events become visible ----------------------------------------------


async def _write_a_lot(store: SQLIssueStore, writes: int, seed: int) -> None:
    rng = random.Random(seed)
    issue = await store.create(_new(f"Issue of writer {seed}"))
    for n in range(writes):
        choice = rng.random()
        if choice < 0.5:
            await store.update(issue.id, IssueUpdate(title=f"Title {seed}.{n}"), actor=str(seed))
        elif choice < 0.8:
            await store.create_comment(issue.id, CommentCreate(body=f"Comment {n}"))
        else:
            issue = await store.create(_new(f"Issue {seed}.{n}"))


def _slow_commits(store: SQLIssueStore, seed: int) -> None:
    """Make the store pause between numbering its events and committing them, as a busy
    database may: a design numbering events at any other moment lets readers skip some."""
    events = store._events
    record = events.record
    rng = random.Random(seed)

    async def slow_record(*args: Any, **kwargs: Any) -> list[EventOut]:
        recorded = await record(*args, **kwargs)
        await asyncio.sleep(rng.random() * 0.01)
        return recorded

    events.record = slow_record  # type: ignore[method-assign]


async def test_a_reader_following_concurrent_writers_never_misses_an_event(
    where: tuple[str, str | None],
) -> None:
    """Several stores (each its own connections, as processes would have) write at once
    while a reader asks again and again for what came after the last id it saw."""
    url, schema = where
    writers = [SQLIssueStore(url, schema=schema) for _ in range(4)]
    reader = SQLIssueStore(url, schema=schema)
    await reader.create_schema()
    for n, writer in enumerate(writers):
        _slow_commits(writer, n)
    seen: list[EventOut] = []
    done = asyncio.Event()

    async def follow() -> None:
        last_seen = 0
        while True:
            finished = done.is_set()
            batch = await reader.list_events(EventQuery(after=last_seen, limit=50))
            # Ids are handed out without gaps, so "nothing missed" is exactly this.
            assert [event.id for event in batch] == list(
                range(last_seen + 1, last_seen + 1 + len(batch))
            )
            seen.extend(batch)
            if batch:
                last_seen = batch[-1].id
            elif finished:
                return
            await asyncio.sleep(0)

    try:
        following = asyncio.create_task(follow())
        await asyncio.gather(*(_write_a_lot(w, 40, n) for n, w in enumerate(writers)))
        done.set()
        await asyncio.wait_for(following, timeout=60)
        final = await reader.list_events(EventQuery(limit=10_000))
        assert seen == list(final)
        assert len(final) >= 4 * 41
    finally:
        for store in (*writers, reader):
            await store.aclose()


# -- indexes -------------------------------------------------------------------------------


async def test_timelines_feeds_by_issue_and_prune_read_an_index(tmp_path: Path) -> None:
    path = tmp_path / "issues.db"
    store = SQLIssueStore(f"sqlite:///{path}")
    await store.create_schema()
    await store.aclose()
    statements = {
        "ix_issue_events_issue": [
            _events._TIMELINE,
            _events._TIMELINE_COUNT,
            select(issue_events.c.id)
            .where(issue_events.c.id > 0, issue_events.c.issue_id == "x")
            .order_by(issue_events.c.id),
        ],
        "ix_issue_events_created_at": [_events._PRUNE],
    }
    with sqlite3.connect(path) as conn:
        for index, listed in statements.items():
            for statement in listed:
                compiled = statement.compile(dialect=sqlite.dialect())
                arguments = [None] * len(compiled.positiontup or ())
                plan = conn.execute(f"EXPLAIN QUERY PLAN {compiled}", arguments).fetchall()
                assert any(index in str(step) for step in plan), (str(compiled), plan)
