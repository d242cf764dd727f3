"""What the JSON-file store promises beyond the contract: format, durability, many processes."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio
import pytest

from fastapi_issues import (
    CommentCreate,
    CorruptStoreError,
    IssueCreate,
    IssueQuery,
    IssueUpdate,
    LabelCreate,
)
from fastapi_issues.storage import JSONFileIssueStore

pytestmark = pytest.mark.anyio

SRC = str(Path(__file__).resolve().parents[3] / "src")

# Exactly what the crash course's code writes: json.dump(issues, f, indent=2).
CRASH_COURSE_FILE = json.dumps(
    [
        {
            "id": "550e8400-e29b-41d4-a716-446655440000",
            "title": "Issue 1",
            "description": "This is a test issue",
            "priority": "medium",
            "status": "open",
        },
        {
            "id": "6fa459ea-ee8a-3ca4-894e-db77e160355e",
            "title": "Issue 2",
            "description": "This is an updated issue",
            "priority": "high",
            "status": "in_progress",
        },
    ],
    indent=2,
)


def new(title: str = "Some issue") -> IssueCreate:
    return IssueCreate(title=title, description="Described well enough")


def read_file(path: Path) -> list[dict[str, object]]:
    """The records of a file the store wrote, checking the versioned layout on the way."""
    text = path.read_text()
    assert text.startswith('{"format": "fastapi-issues.issues", "version": 4, "records": [\n')
    data = json.loads(text)
    assert isinstance(data["records"], list)
    return data["records"]


async def test_crash_course_file_loads_as_is(tmp_path: Path) -> None:
    path = tmp_path / "issues.json"
    path.write_text(CRASH_COURSE_FILE)
    store = JSONFileIssueStore(path)
    page = await store.list(IssueQuery())
    assert [i.title for i in page.items] == ["Issue 1", "Issue 2"]
    first = await store.get("550e8400-e29b-41d4-a716-446655440000")
    assert first.version == 1
    assert first.reporter is None
    assert first.created_at.timestamp() == pytest.approx(path.stat().st_mtime, abs=1)
    # Opening upgraded the file to the versioned layout, keeping the old one beside it.
    assert (tmp_path / "issues.json.v1.bak").read_text() == CRASH_COURSE_FILE
    assert [i["title"] for i in read_file(path)] == ["Issue 1", "Issue 2"]
    reopened = JSONFileIssueStore(path)
    assert await reopened.get(first.id) == first  # the stand-in timestamps were kept


async def test_written_file_keeps_the_crash_course_records(tmp_path: Path) -> None:
    path = tmp_path / "issues.json"
    path.write_text(CRASH_COURSE_FILE)
    store = JSONFileIssueStore(path)
    created = await store.create(new("Issue 3"))
    await store.update("550e8400-e29b-41d4-a716-446655440000", IssueUpdate(title="Renamed"))
    items = read_file(path)
    assert [i["id"] for i in items] == [
        "550e8400-e29b-41d4-a716-446655440000",
        "6fa459ea-ee8a-3ca4-894e-db77e160355e",
        created.id,
    ]
    for item in items:
        assert {"id", "title", "description", "priority", "status"} <= set(item)
    assert items[0]["title"] == "Renamed"
    # Each record is still shaped as the crash course's issue dicts.
    assert {i["priority"] for i in items} == {"medium", "high"}


async def test_missing_and_empty_files_are_empty_stores(tmp_path: Path) -> None:
    missing = JSONFileIssueStore(tmp_path / "nested" / "dir" / "issues.json")
    assert (await missing.list(IssueQuery())).total == 0
    await missing.create(new())
    assert len(read_file(tmp_path / "nested" / "dir" / "issues.json")) == 1
    empty = tmp_path / "empty.json"
    empty.write_text("  \n")
    assert (await JSONFileIssueStore(empty).list(IssueQuery())).total == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('[{"id": "1", "title": "Half', "not valid JSON"),
        ('{"id": "1"}', "expected a JSON array"),
        ('[{"id": "1", "title": "No description"}]', "item 0"),
        (
            '[{"id": "1", "title": "Abc", "description": "Hello", "priority": "x",'
            ' "status": "open"}]',
            "item 0",
        ),
        ("[1, 2]", "item 0"),
    ],
)
async def test_corrupt_file_is_refused_and_left_alone(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "issues.json"
    path.write_text(content)
    with pytest.raises(CorruptStoreError) as info:
        JSONFileIssueStore(path)
    assert str(path) in str(info.value)
    assert message in str(info.value)
    assert path.read_text() == content


async def test_file_corrupted_while_running_is_not_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "issues.json"
    store = JSONFileIssueStore(path)
    await store.create(new())
    path.write_text("garbage")
    with pytest.raises(CorruptStoreError):
        await store.create(new())
    assert path.read_text() == "garbage"


FILES = ["issues", "labels", "comments"]


async def _fill(path: Path) -> JSONFileIssueStore:
    """A store that has written to each of its three files."""
    store = JSONFileIssueStore(path)
    issue = await store.create(new())
    await store.create_label(LabelCreate(name="bug"))
    await store.create_comment(issue.id, CommentCreate(body="Seen it too"))
    return store


async def _refused(read: Callable[[], Awaitable[object]]) -> CorruptStoreError:
    """The error `read` raises once the store has noticed an edit that bypassed the lock."""
    deadline = time.monotonic() + 3
    while True:
        try:
            await read()
        except CorruptStoreError as exc:
            return exc
        assert time.monotonic() < deadline, "the emptied file was never noticed"
        await anyio.sleep(0.05)


@pytest.mark.parametrize("emptied", ["", " \n\t\n"])
@pytest.mark.parametrize("name", FILES)
async def test_a_file_emptied_after_writes_is_refused_at_open(
    tmp_path: Path, name: str, emptied: str
) -> None:
    path = tmp_path / "issues.json"
    (await _fill(path)).close()
    target = tmp_path / f"{name}.json"
    target.write_text(emptied)
    with pytest.raises(CorruptStoreError) as info:
        JSONFileIssueStore(path)
    message = str(info.value)
    assert f"{target} is empty" in message
    assert "write [] into it" in message
    assert f"delete it together with {name}.json.lock" in message
    assert target.read_text() == emptied


async def test_an_emptied_file_starts_empty_on_purpose_as_the_message_says(
    tmp_path: Path,
) -> None:
    path = tmp_path / "issues.json"
    (await _fill(path)).close()
    path.write_text("[]")
    (tmp_path / "comments.json").write_text("")
    (tmp_path / "comments.json").unlink()
    (tmp_path / "comments.json.lock").unlink()
    store = JSONFileIssueStore(path)
    assert (await store.list(IssueQuery())).total == 0
    assert [label.name for label in (await store.list_labels()).items] == ["bug"]
    created = await store.create(new())
    assert [item["id"] for item in read_file(path)] == [created.id]


@pytest.mark.parametrize("name", FILES)
async def test_a_file_emptied_while_running_is_refused_and_never_overwritten(
    tmp_path: Path, name: str
) -> None:
    path = tmp_path / "issues.json"
    store = await _fill(path)
    [issue] = (await store.list(IssueQuery())).items
    target = tmp_path / f"{name}.json"
    target.write_bytes(b"")  # by another process, bypassing the lock
    writes = {
        "issues": lambda: store.create(new()),
        "labels": lambda: store.create_label(LabelCreate(name="other")),
        "comments": lambda: store.create_comment(issue.id, CommentCreate(body="Again")),
    }
    reads: dict[str, Callable[[], Awaitable[object]]] = {
        "issues": lambda: store.get(issue.id),
        "labels": lambda: store.list_labels(),
        "comments": lambda: store.list_comments(issue.id),
    }
    with pytest.raises(CorruptStoreError, match="is empty"):
        await writes[name]()
    assert str(await _refused(reads[name])).startswith(f"{target} is empty")
    # Every read refuses from now on, not only those that happen to stat the file.
    for _ in range(3):
        with pytest.raises(CorruptStoreError):
            await reads[name]()
    assert target.read_bytes() == b""


async def test_the_example_app_answers_503_for_an_emptied_file_and_logs_why(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from examples.app import create_app

    from tests.servers import running

    path = tmp_path / "issues.json"
    env = {"ISSUES_STORAGE_URL": str(path), "FASTAPI_ISSUES_AUTH": "off"}
    body = {"title": "Some issue", "description": "Described well enough"}
    async with running(create_app(env)) as client:
        created = (await client.post("/api/v1/issues", json=body)).json()
        path.write_bytes(b"")
        with caplog.at_level(logging.ERROR, logger="fastapi_issues"):
            response = await client.post("/api/v1/issues", json=body)
        assert response.status_code == 503
        assert response.json() == {"detail": "Issue store unavailable"}
        assert f"{path} is empty" in caplog.text  # the operator learns which file, and why

        async def get() -> None:
            response = await client.get(f"/api/v1/issues/{created['id']}")
            if response.status_code == 503:
                raise CorruptStoreError(response.text)
            assert response.status_code == 200

        await _refused(get)
    assert path.read_bytes() == b""
    with pytest.raises(CorruptStoreError, match="is empty"):
        create_app(env)  # and a restart refuses to serve it


async def test_crash_between_write_and_rename_keeps_the_last_acknowledged_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "issues.json"
    store = JSONFileIssueStore(path)
    kept = await store.create(new("Acknowledged"))
    before = path.read_text()

    def crash(*args: object) -> None:
        raise OSError("simulated crash between write and rename")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="simulated crash"):
        await store.create(new("Never acknowledged"))
    monkeypatch.undo()

    assert path.read_text() == before
    reopened = JSONFileIssueStore(path)
    page = await reopened.list(IssueQuery())
    assert [i.id for i in page.items] == [kept.id]
    await reopened.create(new("After the crash"))
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".tmp"] == []


async def test_leftover_temp_files_are_cleaned_up(tmp_path: Path) -> None:
    path = tmp_path / "issues.json"
    debris = tmp_path / ".issues.json.999.dead.tmp"
    debris.write_text("[\n{half")
    store = JSONFileIssueStore(path)
    await store.create(new())
    assert not debris.exists()


async def test_a_write_from_another_store_is_seen_on_the_next_read(tmp_path: Path) -> None:
    path = tmp_path / "issues.json"
    reader = JSONFileIssueStore(path)
    assert (await reader.list(IssueQuery())).total == 0
    writer = JSONFileIssueStore(path)
    for n in range(3):
        created = await writer.create(new(f"Issue {n}"))
        assert await reader.get(created.id) == created
    assert (await reader.list(IssueQuery())).total == 3


async def test_a_read_sees_another_stores_write_while_its_own_write_is_in_flight(
    tmp_path: Path,
) -> None:
    path = tmp_path / "issues.json"
    reader = JSONFileIssueStore(path)
    writer = JSONFileIssueStore(path)
    for n in range(3):
        created = await writer.create(new(f"Issue {n}"))
        comment = await writer.create_comment(created.id, CommentCreate(body="First"))
        own = asyncio.create_task(reader.create(new("The reader's own")))
        await asyncio.sleep(0)  # its group commit is under way
        assert (await reader.get(created.id)).comment_count == 1
        assert await reader.get_comment(created.id, comment.id) == comment
        await own


async def test_a_hand_edit_that_bypasses_the_lock_is_seen_within_a_second(
    tmp_path: Path,
) -> None:
    path = tmp_path / "issues.json"
    store = JSONFileIssueStore(path)
    created = await store.create(new("Before the edit"))
    assert (await store.get(created.id)).title == "Before the edit"
    data = json.loads(path.read_text())
    data["records"][0]["title"] = "Edited by hand"
    path.write_text(json.dumps(data, indent=2))
    deadline = time.monotonic() + 3
    while (await store.get(created.id)).title != "Edited by hand":
        assert time.monotonic() < deadline, "the hand edit was never picked up"
        await anyio.sleep(0.05)
    assert time.monotonic() < deadline - 1.5  # seen within about a second, not by luck


async def test_writes_are_batched_into_few_rewrites(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "issues.json"
    store = JSONFileIssueStore(path)
    replaces = 0
    real_replace = os.replace

    def counting_replace(src: str, dst: str) -> None:
        nonlocal replaces
        replaces += 1
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", counting_replace)
    await asyncio.gather(*(store.create(new(f"Issue {n}")) for n in range(100)))
    assert len(read_file(path)) == 100
    assert replaces < 100


WRITER = textwrap.dedent(
    """
    import asyncio, sys
    sys.path.insert(0, {src!r})
    from fastapi_issues import IssueCreate
    from fastapi_issues.storage import JSONFileIssueStore

    async def main(path, count, concurrency):
        store = JSONFileIssueStore(path)
        async def one(n):
            data = IssueCreate(title=f"Issue {{n}}", description="From a process")
            issue = await store.create(data)
            print(issue.id, flush=True)
        for start in range(0, count, concurrency):
            await asyncio.gather(*(one(n) for n in range(start, min(count, start + concurrency))))

    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
    """
).format(src=SRC)


@pytest.mark.slow
def test_four_processes_writing_one_file_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "issues.json"
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    processes = [
        subprocess.Popen(
            [sys.executable, str(script), str(path), "250", "16"],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    acknowledged: set[str] = set()
    for process in processes:
        out, _ = process.communicate(timeout=300)
        assert process.returncode == 0
        acknowledged.update(out.split())
    assert len(acknowledged) == 1000
    on_disk = {str(item["id"]) for item in read_file(path)}
    assert on_disk == acknowledged


@pytest.mark.slow
def test_kill_9_never_loses_an_acknowledged_write(tmp_path: Path) -> None:
    path = tmp_path / "issues.json"
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    acknowledged: set[str] = set()
    for cycle in range(5):
        process = subprocess.Popen(
            [sys.executable, str(script), str(path), "100000", "8"],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert process.stdout is not None
        # Let it get going, then kill it mid-stream at a different point each cycle.
        wanted = 40 + 25 * cycle
        seen = 0
        deadline = time.monotonic() + 60
        while seen < wanted and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            acknowledged.add(line.strip())
            seen += 1
        process.send_signal(signal.SIGKILL)
        rest, _ = process.communicate(timeout=30)
        acknowledged.update(rest.split())
        assert seen == wanted
        on_disk = {str(item["id"]) for item in read_file(path)}  # parses: never half-written
        assert acknowledged <= on_disk
