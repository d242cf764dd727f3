"""The JSON store's event log on disk: in the same atomic write as the change (kill -9
keeps both or neither), numbered across processes, kept over restarts and prunes, and
read from files of the previous format (version 2, without events)."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from fastapi_issues import CommentCreate, IssueCreate, IssueUpdate, LabelCreate
from fastapi_issues.schemas import EventType
from fastapi_issues.storage import JSONFileIssueStore
from fastapi_issues.storage.query import EventQuery
from tests.storage.remote_writer import RemoteWriter

SRC = str(Path(__file__).resolve().parents[3] / "src")

# Creates issues, comments on and closes some: writes to both files, from several tasks at
# once. Prints each write once it is acknowledged: "issue <id>", "comment <id>", "closed <id>".
WRITER = textwrap.dedent(
    """
    import asyncio, sys
    sys.path.insert(0, {src!r})
    from fastapi_issues import CommentCreate, IssueCreate, IssueUpdate
    from fastapi_issues.storage import JSONFileIssueStore

    async def main(path, count, concurrency):
        store = JSONFileIssueStore(path)
        async def one(n):
            data = IssueCreate(title=f"Issue {{n}}", description="From a process")
            issue = await store.create(data, reporter="ada")
            print("issue", issue.id, flush=True)
            comment = await store.create_comment(issue.id, CommentCreate(body="Hi"))
            print("comment", comment.id, flush=True)
            if n % 2:
                await store.update(issue.id, IssueUpdate(status="closed"), actor="bob")
                print("closed", issue.id, flush=True)
        for start in range(0, count, concurrency):
            await asyncio.gather(*(one(n) for n in range(start, min(count, start + concurrency))))

    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
    """
).format(src=SRC)


def _new(title: str = "Some issue") -> IssueCreate:
    return IssueCreate(title=title, description="Described well enough")


async def _events(path: Path) -> list[Any]:
    store = JSONFileIssueStore(path)
    try:
        return list(await store.list_events(EventQuery(limit=1_000_000)))
    finally:
        store.close()


def _on_disk(path: Path) -> tuple[set[str], set[str]]:
    issues = json.loads(path.read_text())["records"]
    comments = json.loads(path.with_name("comments.json").read_text())["records"]
    return {i["id"] for i in issues}, {c["id"] for c in comments}


def _check_log(events: list[Any], path: Path) -> None:
    """Ids unique and growing; every issue and comment on disk has its event and every
    event its issue or comment: a write and its events are kept together or not at all."""
    ids = [event.id for event in events]
    assert ids == sorted(set(ids))
    issues, comments = _on_disk(path)
    created = {e.issue_id for e in events if e.type == EventType.ISSUE_CREATED}
    commented = {e.comment.id for e in events if e.type == EventType.COMMENT_CREATED}
    assert created == issues
    assert commented == comments


# The writer, moving events to the archive beside each file every few writes, so that a
# kill often lands in an append, or between an append and the rename of the file.
ARCHIVING_WRITER = WRITER.replace(
    "from fastapi_issues.storage import JSONFileIssueStore\n",
    "from fastapi_issues.storage import JSONFileIssueStore\n"
    "from fastapi_issues.storage.records import _event_archive\n"
    "_event_archive.SPILL_ABOVE, _event_archive.KEPT_IN_FILE = 3, 1\n",
)


@pytest.mark.slow
def test_kill_9_keeps_every_acknowledged_write_with_its_events(tmp_path: Path) -> None:
    _kill_9_cycles(tmp_path, WRITER)


@pytest.mark.slow
def test_kill_9_while_events_move_to_the_archive_keeps_each_event_once(tmp_path: Path) -> None:
    _kill_9_cycles(tmp_path, ARCHIVING_WRITER)
    archive = tmp_path / "issues.json.events.jsonl"
    in_file = json.loads((tmp_path / "issues.json").read_text())["events"]
    # Most events were moved: the file keeps a few, the archive the rest.
    assert len(archive.read_bytes().splitlines()) > 10 * len(in_file)


def _kill_9_cycles(tmp_path: Path, writer: str) -> None:
    """Four runs of `writer` killed with SIGKILL after a growing number of writes: each
    time, every write acknowledged so far is on disk with its events."""
    path = tmp_path / "issues.json"
    script = tmp_path / "writer.py"
    script.write_text(writer)
    acknowledged: list[tuple[str, str]] = []
    for cycle in range(4):
        process = subprocess.Popen(
            [sys.executable, str(script), str(path), "100000", "8"],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert process.stdout is not None
        wanted, seen = 30 + 20 * cycle, 0
        deadline = time.monotonic() + 60
        while seen < wanted and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            kind, key = line.split()
            acknowledged.append((kind, key))
            seen += 1
        process.send_signal(signal.SIGKILL)
        rest, _ = process.communicate(timeout=30)
        # Only whole lines: the kill can cut the last one short (a blocked flush to the
        # full pipe), and a write whose line was cut was not reported.
        whole = rest.split("\n")[:-1]
        acknowledged += [tuple(line.split()) for line in whole]  # type: ignore[misc]
        assert process.returncode == -9
        assert seen == wanted
        events = asyncio.run(_events(path))
        _check_log(events, path)
        closed = {e.issue_id for e in events if e.type == EventType.ISSUE_CLOSED}
        for kind, key in acknowledged:
            if kind == "issue":
                assert key in {e.issue_id for e in events if e.type == EventType.ISSUE_CREATED}
            elif kind == "comment":
                assert any(e.comment and e.comment.id == key for e in events)
            else:
                assert key in closed


@pytest.mark.slow
def test_processes_writing_at_once_number_events_uniquely(tmp_path: Path) -> None:
    path = tmp_path / "issues.json"
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    processes = [
        subprocess.Popen(
            [sys.executable, str(script), str(path), "40", "8"], stdout=subprocess.PIPE, text=True
        )
        for _ in range(3)
    ]
    lines: list[str] = []
    for process in processes:
        out, _ = process.communicate(timeout=300)
        assert process.returncode == 0
        lines += out.splitlines()
    events = asyncio.run(_events(path))
    _check_log(events, path)
    # 40 issues per process: created, commented, and every other one closed.
    assert len(lines) == len(events) == 3 * (40 + 40 + 20)
    assert [e.id for e in events] == list(range(1, len(events) + 1))


@pytest.mark.anyio
async def test_events_survive_a_restart_and_ids_survive_a_prune(tmp_path: Path) -> None:
    path = tmp_path / "issues.json"
    store = JSONFileIssueStore(path)
    issue = await store.create(_new(), reporter="ada")
    await store.create_comment(issue.id, CommentCreate(body="Hi"), author="bob")
    await store.update(issue.id, IssueUpdate(title="Renamed"), actor="ada")
    before = list(await store.list_events(EventQuery()))
    store.close()

    reopened = JSONFileIssueStore(path)
    assert list(await reopened.list_events(EventQuery())) == before
    assert await reopened.prune_events(before=datetime.now(UTC) + timedelta(days=1)) == 3
    reopened.close()
    # The lock file is a cache: the files alone keep ids from being given again.
    path.with_name("issues.json.events.lock").unlink()

    again = JSONFileIssueStore(path)
    assert list(await again.list_events(EventQuery())) == []
    assert await again.last_event_id() == before[-1].id
    await again.update(issue.id, IssueUpdate(title="Again"), actor="ada")
    [after] = await again.list_events(EventQuery())
    assert after.id == before[-1].id + 1
    again.close()


@pytest.mark.anyio
async def test_a_version_2_file_reads_with_no_events_and_is_written_in_version_4(
    tmp_path: Path,
) -> None:
    path = tmp_path / "issues.json"
    record = {
        "id": "550e8400-e29b-41d4-a716-446655440000",
        "title": "From 0.2",
        "description": "Written before events",
        "priority": "medium",
        "status": "open",
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-01T00:00:00Z",
        "reporter": "ada",
        "version": 1,
        "assignees": [],
        "label_ids": [],
    }
    path.write_text(
        '{"format": "fastapi-issues.issues", "version": 2, "records": [\n'
        + json.dumps(record)
        + "\n]}\n"
    )
    store = JSONFileIssueStore(path)
    old = await store.get(record["id"])
    assert old.title == "From 0.2"
    assert list(await store.list_events(EventQuery())) == []
    assert await store.last_event_id() == 0
    assert (await store.issue_events(old.id)).total == 0
    await store.update(old.id, IssueUpdate(title="Edited"), actor="ada")
    store.close()

    data = json.loads(path.read_text())
    assert (data["version"], data["last_event_id"]) == (4, 1)
    assert [r["id"] for r in data["records"]] == [record["id"]]
    [event] = data["events"]
    assert (event["type"], event["changes"]) == (
        "issue.updated",
        {"title": {"from": "From 0.2", "to": "Edited"}},
    )


def test_a_journal_that_cannot_make_its_lock_file_numbers_in_the_process(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from fastapi_issues.storage.records._journal import FileEventJournal
    from fastapi_issues.storage.rules import issue_events

    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    journal = FileEventJournal(blocker / "issues.json.events.lock")
    assert "cannot be used" in caplog.text
    journal.raise_to(4)
    issue = asyncio.run(_one_issue(tmp_path))
    with journal.exclusive():
        [(event, line)] = journal.number([(issue_events(None, issue), "ada", issue.created_at)], 0)
    assert event.id == 5
    assert json.loads(line)["id"] == 5
    journal.published(5)
    assert journal.visible() == 5
    journal.close()


async def _one_issue(folder: Path) -> Any:
    store = JSONFileIssueStore(folder / "issues.json")
    try:
        return await store.create(_new())
    finally:
        store.close()


@pytest.mark.anyio
async def test_a_write_in_another_process_wakes_a_waiter(tmp_path: Path) -> None:
    path = tmp_path / "issues.json"
    store = JSONFileIssueStore(path)
    try:
        await store.create(_new())
        async with RemoteWriter("json", str(path)) as writer:
            for _ in range(3):
                seen = await store.last_event_id()
                waiter = asyncio.create_task(store.wait_for_events(seen))
                await asyncio.sleep(0.12)  # past a few of its checks: nothing new yet
                assert not waiter.done()
                await writer.write()
                # About 50 ms (one check of the journal's counter); 0.5 s for a busy machine.
                async with asyncio.timeout(0.5):
                    await waiter
                assert await store.last_event_id() > seen
    finally:
        await store.aclose()


@pytest.mark.anyio
async def test_waiters_check_the_journal_not_the_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Twenty idle waiters cost one look at the journal's counter every 50 ms between
    them: no file is read again, and the look is shared."""
    store = JSONFileIssueStore(tmp_path / "issues.json")
    try:
        await store.create(_new())
        seen = await store.last_event_id()
        reads: list[str] = []
        looks: list[float] = []
        changed = store._journal.changed

        async def counted() -> bool:
            looks.append(time.monotonic())
            return await changed()

        for part in (store._file, store._comments):
            monkeypatch.setattr(part, "fresh_records", lambda: reads.append("read"))
        monkeypatch.setattr(store._journal, "changed", counted)
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.5):
                await asyncio.gather(*(store.wait_for_events(seen) for _ in range(20)))
        assert reads == []
        assert 3 <= len(looks) <= 12  # one look per ~50 ms in all, not one per waiter
    finally:
        await store.aclose()


@pytest.mark.anyio
async def test_this_process_s_writes_wake_without_the_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = JSONFileIssueStore(tmp_path / "issues.json")
    try:
        issue = await store.create(_new())

        async def never() -> bool:
            return False

        monkeypatch.setattr(store._journal, "changed", never)
        seen = await store.last_event_id()
        waiter = asyncio.create_task(store.wait_for_events(seen))
        await store.create_label(LabelCreate(name="bug"))  # no event
        await asyncio.sleep(0.1)
        assert not waiter.done()
        await store.update(issue.id, IssueUpdate(title="Edited title"))
        async with asyncio.timeout(0.5):
            await waiter
    finally:
        await store.aclose()
