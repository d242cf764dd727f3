"""Labels, assignees, closing and comments travel with issues between stores."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from fastapi_issues import (
    CommentCreate,
    CommentOut,
    IssueCreate,
    IssueQuery,
    IssueStatus,
    IssueUpdate,
    LabelCreate,
    LabelOut,
    LabelUpdate,
    StateReason,
)
from fastapi_issues.migrate import migrate_stores
from fastapi_issues.storage import (
    InMemoryIssueStore,
    TrackerExporter,
    TrackerImporter,
)
from tests.storage.test_transfer import T0, StoreFactory, issue, new_store

__all__ = ["new_store"]  # the fixture, imported to be found

pytestmark = pytest.mark.anyio


def label(n: int, name: str, **fields: Any) -> LabelOut:
    return LabelOut(
        **{"id": f"00000000-0000-4000-8000-{n:012}", "name": name, "color": "ededed", **fields}
    )


def comment(n: int, issue_id: str, **fields: Any) -> CommentOut:
    values: dict[str, Any] = {
        "id": f"00000000-0000-4000-9000-{n:012}",
        "issue_id": issue_id,
        "body": f"Comment {n}",
        "author": "ada",
        "created_at": T0 + timedelta(minutes=n),
        "updated_at": T0 + timedelta(minutes=n),
        "version": 1,
    }
    return CommentOut(**{**values, **fields})


async def test_every_store_offers_label_and_comment_transfer(new_store: StoreFactory) -> None:
    store = await new_store()
    assert isinstance(store, TrackerImporter)
    assert isinstance(store, TrackerExporter)


async def test_labels_import_as_they_are(new_store: StoreFactory) -> None:
    store = await new_store()
    mine = await store.create_label(LabelCreate(name="Bug"))
    imported = [
        label(1, "ui", color="00ff00", description="Looks"),
        label(2, "BUG"),
        label(3, "docs"),
    ]
    assert await store.import_labels(imported) == 2
    assert [x async for x in store.export_labels()] == [mine, imported[2], imported[0]]
    assert await store.import_labels(imported) == 0
    # Two case variants in one batch: the first is kept.
    assert await store.import_labels([label(4, "Perf"), label(5, "PERF")]) == 1
    assert (await store.get_label("perf")).id == label(4, "Perf").id


async def test_issues_import_with_labels_assignees_and_closing(new_store: StoreFactory) -> None:
    store = await new_store()
    await store.import_labels([label(1, "Bug", color="d73a4a")])
    closed = issue(
        0,
        labels=["bug", "Brand new"],
        assignees=["ada", "bob"],
        status=IssueStatus.closed,
        state_reason=StateReason.duplicate,
        closed_at=T0 + timedelta(days=1),
        closed_by="cy",
        comment_count=7,  # counted by the target, not copied
    )
    assert await store.import_issues([closed, issue(1)]) == 2
    stored = await store.get(closed.id)
    assert stored.labels == ["Brand new", "Bug"]
    assert stored.assignees == ["ada", "bob"]
    assert (stored.state_reason, stored.closed_by) == (StateReason.duplicate, "cy")
    assert stored.closed_at == T0 + timedelta(days=1)
    assert stored.comment_count == 0
    # A label no label had is made, plain; the existing one is reused.
    assert (await store.get_label("brand new")).color == "ededed"
    assert (await store.get_label("bug")).id == label(1, "Bug").id
    assert [i.id for i in (await store.list(IssueQuery(labels=["bug"]))).items] == [closed.id]
    assert [i.id for i in (await store.list(IssueQuery(assignee="bob"))).items] == [closed.id]
    exported = [x async for x in store.export_issues()]
    assert exported[0] == stored


async def test_comments_import_in_order_and_only_for_known_issues(
    new_store: StoreFactory,
) -> None:
    store = await new_store()
    await store.import_issues([issue(0), issue(1)])
    first, second = issue(0).id, issue(1).id
    notes = [
        comment(1, first),
        comment(2, second, author=None),
        comment(3, "no-such-issue"),
        comment(4, first, version=3, body="Edited", updated_at=T0 + timedelta(days=2)),
    ]
    assert await store.import_comments(notes) == 3
    assert await store.import_comments(notes) == 0
    page = await store.list_comments(first)
    assert list(page.items) == [notes[0], notes[3]]
    assert (await store.get(first)).comment_count == 2
    exported = [x async for x in store.export_comments()]
    assert sorted(exported, key=lambda c: c.id) == [notes[0], notes[1], notes[3]]


async def test_a_whole_tracker_migrates_between_any_two_kinds(new_store: StoreFactory) -> None:
    source = InMemoryIssueStore()
    await source.create_label(LabelCreate(name="bug", color="ff0000"))
    await source.create_label(LabelCreate(name="ui"))
    a = await source.create(IssueCreate(title="First", description="Broken", assignees=["ada"]))
    b = await source.create(IssueCreate(title="Second", description="Also broken"))
    await source.set_issue_labels(a.id, ["bug", "ui"])
    await source.update(b.id, IssueUpdate(status=IssueStatus.closed), actor="bob")
    for n in range(3):
        await source.create_comment(a.id, CommentCreate(body=f"Note {n}"), author="cy")
    await source.update_label("ui", LabelUpdate(name="frontend"))

    target = await new_store()
    report = await migrate_stores(source, target)
    assert (report.labels_copied, report.issues_copied, report.comments_copied) == (2, 2, 3)
    assert [x async for x in target.export_labels()] == [x async for x in source.export_labels()]
    assert [x async for x in target.export_issues()] == [x async for x in source.export_issues()]
    assert list((await target.list_comments(a.id)).items) == list(
        (await source.list_comments(a.id)).items
    )
    again = await migrate_stores(source, target)
    assert (again.labels_copied, again.issues_copied, again.comments_copied) == (0, 0, 0)
    assert again.comments_already_present == 3
