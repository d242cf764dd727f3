"""The archive of a record file's older events (`records/_event_archive.py`): a file keeps a
bounded number of events however long the log grows, every event is read once (also after a
crash between an append and the file's rename, or in the middle of an append), prunes reach
the archive, and files of version 3 (every event in the file) are read and upgraded."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from fastapi_issues import IssueCreate, IssueUpdate
from fastapi_issues.storage import JSONFileIssueStore
from fastapi_issues.storage.query import EventQuery
from fastapi_issues.storage.records import _event_archive
from fastapi_issues.storage.records.durable_file import DurableJSONArray

pytestmark = pytest.mark.anyio


def _new(n: int) -> IssueCreate:
    return IssueCreate(title=f"Issue {n}", description="Described well enough")


def _file(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _archived_ids(path: Path) -> list[int]:
    archive = path.with_name(path.name + ".events.jsonl")
    return [json.loads(line)["id"] for line in archive.read_bytes().splitlines()]


async def _all_events(store: JSONFileIssueStore) -> list[Any]:
    return list(await store.list_events(EventQuery(limit=1_000_000)))


async def test_a_file_keeps_a_bounded_number_of_events_and_the_archive_the_rest(
    tmp_path: Path,
) -> None:
    path = tmp_path / "issues.json"
    store = JSONFileIssueStore(path)
    issue = await store.create(_new(0), reporter="ada")
    for n in range(1, 300):
        await store.update(issue.id, IssueUpdate(title=f"Title {n}"), actor="ada")
        in_file = len(_file(path)["events"])
        assert in_file <= _event_archive.SPILL_ABOVE + 1
    events = await _all_events(store)
    assert [e.id for e in events] == list(range(1, 301))
    data = _file(path)
    assert data["version"] == 4
    assert data["last_event_id"] == 300
    in_file_ids = [e["id"] for e in data["events"]]
    # Together, file and archive hold each event once, oldest in the archive.
    assert _archived_ids(path) + in_file_ids == list(range(1, 301))
    assert (await store.issue_events(issue.id, offset=0, limit=500)).total == 300
    store.close()

    reopened = JSONFileIssueStore(path)
    assert await _all_events(reopened) == events
    reopened.close()


async def test_a_crash_between_the_append_and_the_rename_reads_each_event_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "issues.json"
    store = JSONFileIssueStore(path)
    issue = await store.create(_new(0), reporter="ada")
    n = 1
    while len(_file(path)["events"]) <= _event_archive.SPILL_ABOVE:
        await store.update(issue.id, IssueUpdate(title=f"Title {n}"), actor="ada")
        n += 1
    before = await _all_events(store)
    on_disk = path.read_bytes()

    def crash(self: object, *args: object) -> None:
        raise OSError("disk gone")  # as a kill right after the archive's fsync

    # The next write moves older events to the archive, then fails to replace the file.
    monkeypatch.setattr(DurableJSONArray, "_replace_file", crash)
    with pytest.raises(OSError, match="disk gone"):
        await store.update(issue.id, IssueUpdate(title="Lost"), actor="ada")
    monkeypatch.undo()
    store.close()
    assert path.read_bytes() == on_disk
    assert _archived_ids(path)  # the moved events are in both the archive and the file

    reopened = JSONFileIssueStore(path)
    assert await _all_events(reopened) == before  # each once; the failed write has none
    after = await reopened.update(issue.id, IssueUpdate(title="Kept"), actor="ada")
    events = await _all_events(reopened)
    # (The failed write's id was given, and is never given again.)
    assert events[:-1] == before
    assert events[-1].id > before[-1].id
    assert events[-1].issue == after
    ids = _archived_ids(path)
    assert ids == sorted(set(ids))  # not appended twice
    reopened.close()


async def test_a_line_cut_short_by_a_crash_mid_append_is_skipped_then_replaced(
    tmp_path: Path,
) -> None:
    path = tmp_path / "issues.json"
    store = JSONFileIssueStore(path)
    issue = await store.create(_new(0), reporter="ada")
    for n in range(1, 2 * _event_archive.SPILL_ABOVE):
        await store.update(issue.id, IssueUpdate(title=f"Title {n}"), actor="ada")
    before = await _all_events(store)
    store.close()
    archive = path.with_name("issues.json.events.jsonl")
    archived = archive.read_bytes()
    # What a kill in the middle of an append leaves: a part of an event's line.
    archive.write_bytes(archived + b'{"id": 99999, "type": "iss')

    reopened = JSONFileIssueStore(path)
    assert await _all_events(reopened) == before
    for n in range(2 * _event_archive.SPILL_ABOVE):
        await reopened.update(issue.id, IssueUpdate(title=f"Again {n}"), actor="ada")
    assert b"99999" not in archive.read_bytes()
    ids = _archived_ids(path) + [e["id"] for e in _file(path)["events"]]
    assert ids == [e.id for e in await _all_events(reopened)] == list(range(1, len(ids) + 1))
    reopened.close()


async def test_a_prune_reaches_the_archive(tmp_path: Path) -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    times = iter(now + timedelta(minutes=n) for n in range(10_000))
    path = tmp_path / "issues.json"
    store = JSONFileIssueStore(path, clock=lambda: next(times))
    issue = await store.create(_new(0), reporter="ada")
    for n in range(1, 250):
        await store.update(issue.id, IssueUpdate(title=f"Title {n}"), actor="ada")
    assert len(_archived_ids(path)) > 100
    # The 100 oldest go: all of them archived ones.
    assert await store.prune_events(before=now + timedelta(minutes=100)) == 100
    kept = await _all_events(store)
    assert [e.id for e in kept] == list(range(101, 251))
    assert min(_archived_ids(path)) == 101
    store.close()
    reopened = JSONFileIssueStore(path)
    assert await _all_events(reopened) == kept
    assert await reopened.last_event_id() == 250
    reopened.close()


async def test_a_version_3_file_reads_its_events_and_is_written_in_version_4(
    tmp_path: Path,
) -> None:
    path = tmp_path / "issues.json"
    store = JSONFileIssueStore(path)
    issue = await store.create(_new(0), reporter="ada")
    for n in range(1, 200):
        await store.update(issue.id, IssueUpdate(title=f"Title {n}"), actor="ada")
    events = await _all_events(store)
    store.close()
    # The same log as release 3 kept it: every event in the file, no archive.
    data = _file(path)
    archive = path.with_name("issues.json.events.jsonl")
    lines = [json.loads(line) for line in archive.read_bytes().splitlines()]
    archive.unlink()
    path.write_text(
        '{"format": "fastapi-issues.issues", "version": 3, "records": [\n'
        + ",\n".join(json.dumps(r) for r in data["records"])
        + '\n], "events": [\n'
        + ",\n".join(json.dumps(e) for e in lines + data["events"])
        + f'\n], "last_event_id": {data["last_event_id"]}}}\n'
    )

    reopened = JSONFileIssueStore(path)
    assert await _all_events(reopened) == events
    await reopened.update(issue.id, IssueUpdate(title="In version 4"), actor="ada")
    upgraded = _file(path)
    assert upgraded["version"] == 4
    assert len(upgraded["events"]) <= _event_archive.SPILL_ABOVE
    assert [e.id for e in await _all_events(reopened)] == list(range(1, 202))
    reopened.close()
