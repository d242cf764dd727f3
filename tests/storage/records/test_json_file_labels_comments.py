"""The JSON-file store's labels and comments: one file per collection, and what a crash
between two files' writes leaves behind."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from fastapi_issues import (
    CommentCreate,
    CorruptStoreError,
    IssueCreate,
    IssueQuery,
    LabelCreate,
    LabelUpdate,
)
from fastapi_issues.storage import IssueNotFound, JSONFileIssueStore, LabelNotFound
from fastapi_issues.storage.records.durable_file import DurableJSONArray

pytestmark = pytest.mark.anyio

SRC = str(Path(__file__).resolve().parents[3] / "src")


def new(title: str = "Some issue") -> IssueCreate:
    return IssueCreate(title=title, description="Described well enough")


def read(path: Path) -> list[dict[str, Any]]:
    data = json.loads(path.read_text())
    # Issues and comments carry the event log since version 3 (its newest events since 4);
    # labels stay at 2.
    assert data["version"] == (2 if path.name.endswith("labels.json") else 4)
    assert isinstance(data["records"], list)
    return data["records"]


async def test_one_file_per_collection(tmp_path: Path) -> None:
    store = JSONFileIssueStore(tmp_path / "issues.json")
    label = await store.create_label(LabelCreate(name="bug", color="ff0000"))
    issue = await store.create(new())
    await store.add_issue_labels(issue.id, ["bug"])
    comment = await store.create_comment(issue.id, CommentCreate(body="Hi"), author="ada")
    [stored_issue] = read(tmp_path / "issues.json")
    assert stored_issue["label_ids"] == [label.id]
    # Names and counts are looked up, never copied, so they cannot go stale.
    assert "labels" not in stored_issue
    assert "comment_count" not in stored_issue
    assert read(tmp_path / "labels.json") == [label.model_dump()]
    [stored_comment] = read(tmp_path / "comments.json")
    assert stored_comment["id"] == comment.id
    assert stored_comment["issue_id"] == issue.id
    assert stored_comment["author"] == "ada"
    store.close()


async def test_renaming_a_label_writes_only_the_labels_file(tmp_path: Path) -> None:
    store = JSONFileIssueStore(tmp_path / "issues.json")
    await store.create_label(LabelCreate(name="bug"))
    issue = await store.add_issue_labels((await store.create(new())).id, ["bug"])
    before = (tmp_path / "issues.json").read_text()
    await store.update_label("bug", LabelUpdate(name="defect"))
    assert (tmp_path / "issues.json").read_text() == before
    assert (await JSONFileIssueStore(tmp_path / "issues.json").get(issue.id)).labels == ["defect"]
    store.close()


async def test_files_are_only_made_when_used_and_follow_the_issue_file_name(
    tmp_path: Path,
) -> None:
    store = JSONFileIssueStore(tmp_path / "tracker.json")
    await store.create(new())
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "tracker.json",
        "tracker.json.events.lock",
        "tracker.json.lock",
    ]
    await store.create_label(LabelCreate(name="bug"))
    assert (tmp_path / "tracker.labels.json").exists()
    explicit = JSONFileIssueStore(
        tmp_path / "a.json", labels_path=tmp_path / "l.json", comments_path=tmp_path / "c.json"
    )
    issue = await explicit.create(new())
    await explicit.create_comment(issue.id, CommentCreate(body="Hi"))
    assert len(read(tmp_path / "c.json")) == 1
    store.close()
    explicit.close()


async def test_issue_files_from_before_collaboration_load(tmp_path: Path) -> None:
    path = tmp_path / "issues.json"
    path.write_text(
        json.dumps(
            [
                {
                    "id": "550e8400-e29b-41d4-a716-446655440000",
                    "title": "Issue 1",
                    "description": "This is a test issue",
                    "priority": "medium",
                    "status": "closed",
                    "created_at": "2024-01-01T00:00:00Z",
                    "updated_at": "2024-01-02T00:00:00Z",
                    "reporter": "ada",
                    "version": 3,
                }
            ]
        )
    )
    store = JSONFileIssueStore(path)
    issue = await store.get("550e8400-e29b-41d4-a716-446655440000")
    assert (issue.labels, issue.assignees, issue.comment_count) == ([], [], 0)
    assert (issue.closed_at, issue.closed_by, issue.state_reason) == (None, None, None)
    assert (await store.list(IssueQuery(assignee="none"))).total == 1
    store.close()


@pytest.mark.parametrize("name", ["labels.json", "comments.json"])
async def test_a_corrupt_collection_file_is_refused(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_text('[{"id": "x"}]')
    with pytest.raises(CorruptStoreError, match=name):
        JSONFileIssueStore(tmp_path / "issues.json")
    assert (tmp_path / name).read_text() == '[{"id": "x"}]'


def fail_writes_to(monkeypatch: pytest.MonkeyPatch, file_name: str) -> None:
    """Make every write to `file_name` fail, as a crash after the previous write would."""
    real_write = DurableJSONArray.write

    async def write(self: DurableJSONArray[Any], change: Any) -> Any:
        if self.path.name == file_name:
            raise OSError(f"simulated crash before writing {file_name}")
        return await real_write(self, change)

    monkeypatch.setattr(DurableJSONArray, "write", write)


async def test_crash_between_deleting_a_label_and_taking_it_off_issues(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "issues.json"
    store = JSONFileIssueStore(path)
    names = [f"label-{n:02}" for n in range(21)]
    for name in names:
        await store.create_label(LabelCreate(name=name))
    issue = await store.set_issue_labels((await store.create(new())).id, names[:20])
    fail_writes_to(monkeypatch, "issues.json")
    with caplog.at_level(logging.WARNING, logger="fastapi_issues"):
        await store.delete_label("label-00")
    assert "not taken off" in caplog.text
    monkeypatch.undo()
    store.close()

    # What a restart finds: the issue still holds the deleted label's id.
    reopened = JSONFileIssueStore(path)
    assert len(read(path)[0]["label_ids"]) == 20
    shown = await reopened.get(issue.id)
    assert shown.labels == names[1:20]
    assert shown.version == issue.version
    # The dangling id does not count towards the limit, and a new label of the same name is
    # another label.
    added = await reopened.add_issue_labels(issue.id, ["label-20"])
    assert added.labels == names[1:21]
    await reopened.create_label(LabelCreate(name="label-00"))
    assert "label-00" not in (await reopened.get(issue.id)).labels
    # Setting the labels drops ids of labels that are gone.
    await reopened.set_issue_labels(issue.id, names[1:5])
    assert len(read(path)[0]["label_ids"]) == 4
    reopened.close()


async def test_crash_between_deleting_an_issue_and_its_comments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "issues.json"
    store = JSONFileIssueStore(path)
    issue = await store.create(new())
    comment = await store.create_comment(issue.id, CommentCreate(body="Orphan to be"))
    fail_writes_to(monkeypatch, "comments.json")
    with caplog.at_level(logging.WARNING, logger="fastapi_issues"):
        await store.delete(issue.id)
    assert "not removed" in caplog.text
    monkeypatch.undo()
    store.close()

    reopened = JSONFileIssueStore(path)
    assert [c["id"] for c in read(tmp_path / "comments.json")] == [comment.id]
    assert (await reopened.list(IssueQuery())).total == 0
    other = await reopened.create(new())
    assert (await reopened.get(other.id)).comment_count == 0
    with pytest.raises(IssueNotFound):
        await reopened.get_comment(issue.id, comment.id)
    with pytest.raises(IssueNotFound):
        await reopened.list_comments(issue.id)
    reopened.close()


async def test_unknown_label_filter_on_an_empty_label_file(tmp_path: Path) -> None:
    store = JSONFileIssueStore(tmp_path / "issues.json")
    await store.create(new())
    with pytest.raises(LabelNotFound):
        await store.get_label("bug")
    assert (await store.list(IssueQuery(labels=["bug"]))).total == 0
    store.close()


COMMENTER = textwrap.dedent(
    """
    import asyncio, sys
    sys.path.insert(0, {src!r})
    from fastapi_issues import CommentCreate
    from fastapi_issues.storage import JSONFileIssueStore

    async def main(path, issue_id, label, count):
        store = JSONFileIssueStore(path)
        async def one(n):
            comment = await store.create_comment(issue_id, CommentCreate(body=f"{{label}} {{n}}"))
            print(comment.id, flush=True)
        await asyncio.gather(*(one(n) for n in range(count)))
        await store.add_issue_labels(issue_id, [label])

    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))
    """
).format(src=SRC)


@pytest.mark.slow
def test_processes_commenting_and_labelling_one_issue_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "issues.json"
    labels = [f"worker-{n}" for n in range(4)]

    async def set_up() -> str:
        store = JSONFileIssueStore(path)
        for name in labels:
            await store.create_label(LabelCreate(name=name))
        issue = await store.create(new())
        store.close()
        return issue.id

    issue_id = asyncio.run(set_up())
    script = tmp_path / "commenter.py"
    script.write_text(COMMENTER)
    processes = [
        subprocess.Popen(
            [sys.executable, str(script), str(path), issue_id, label, "100"],
            stdout=subprocess.PIPE,
            text=True,
        )
        for label in labels
    ]
    acknowledged: set[str] = set()
    for process in processes:
        out, _ = process.communicate(timeout=120)
        assert process.returncode == 0
        acknowledged.update(out.split())
    assert len(acknowledged) == 400

    async def check() -> None:
        store = JSONFileIssueStore(path)
        page = await store.list_comments(issue_id, limit=1000)
        assert {c.id for c in page.items} == acknowledged
        final = await store.get(issue_id)
        assert final.comment_count == 400
        assert final.labels == labels
        store.close()

    asyncio.run(check())
