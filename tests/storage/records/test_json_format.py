"""The versioned JSON files: 0.1.0's bare arrays upgraded in place, newer versions refused."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
import textwrap
import time
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from fastapi_issues import CommentCreate, CorruptStoreError, IssueCreate, IssueQuery, IssueUpdate
from fastapi_issues.auth import JSONFileUserStore
from fastapi_issues.storage import JSONFileIssueStore
from tests.releases import extract_0_1_0

pytestmark = pytest.mark.anyio

REPO = Path(__file__).resolve().parents[3]
SRC = str(REPO / "src")
COLLECTIONS = ("issues", "labels", "comments", "users")
# The format version each collection's file is written in: issues and comments carry the
# event log since version 3, and keep only its newest events in the file since version 4.
VERSIONS = {"issues": 4, "labels": 2, "comments": 4, "users": 2}

# Run with 0.1.0's code on the path: fills a data folder through its stores, then prints
# everything those stores read back, as JSON.
WRITE_WITH_0_1 = textwrap.dedent(
    """
    import asyncio, json, sys
    from pydantic import SecretStr
    import fastapi_issues
    from fastapi_issues import (
        CommentCreate, IssueCreate, IssueQuery, IssueUpdate, JSONFileIssueStore, LabelCreate,
    )
    from fastapi_issues.auth.users import JSONFileUserStore, UserInDB

    assert fastapi_issues.__version__ == "0.1.0", fastapi_issues.__version__
    folder = sys.argv[1]

    async def main():
        store = JSONFileIssueStore(folder + "/issues.json")
        users = JSONFileUserStore(folder + "/users.json")
        for name in ("ada", "bob"):
            await users.create(UserInDB(username=name, full_name=name.title(),
                                        email=name + "@example.com",
                                        hashed_password=SecretStr("hash-of-" + name)))
        await store.create_label(LabelCreate(name="bug", color="ff0000"))
        await store.create_label(LabelCreate(name="docs"))
        for n in range(6):
            issue = await store.create(
                IssueCreate(title=f"Issue {n}", description="Described well enough",
                            assignees=["ada"] if n % 2 else []),
                reporter="bob",
            )
            if n % 3 == 0:
                await store.set_issue_labels(issue.id, ["bug", "docs"][: n % 2 + 1])
            if n >= 4:
                await store.update(issue.id, IssueUpdate(status="closed"), actor="ada")
            for c in range(n % 3):
                await store.create_comment(issue.id, CommentCreate(body=f"Comment {c}"),
                                           author="ada")
        issues = (await store.list(IssueQuery(limit=100))).items
        comments = [c async for c in store.export_comments()]
        print(json.dumps({
            "issues": [i.model_dump(mode="json") for i in issues],
            "labels": [l.model_dump(mode="json") for l in (await store.list_labels()).items],
            "comments": [c.model_dump(mode="json") for c in comments],
            "users": [u.model_dump(mode="json", exclude={"hashed_password"})
                      | {"hashed_password": u.hashed_password.get_secret_value()}
                      for u in await users.list()],
        }))

    asyncio.run(main())
    """
)

# Opens a bare-array file with this release's store once `start` (a time) comes, so that
# several processes open it together, then prints how many issues it serves.
OPEN_AT = textwrap.dedent(
    """
    import asyncio, sys, time
    from fastapi_issues import IssueQuery
    from fastapi_issues.storage import JSONFileIssueStore

    path, start = sys.argv[1], float(sys.argv[2])
    time.sleep(max(0.0, start - time.time()))
    store = JSONFileIssueStore(path)
    print(asyncio.run(store.list(IssueQuery(limit=100))).total)
    """
)

# Opens a bare-array file and dies by SIGKILL at the rename that would put the upgraded
# file in place: after the backup is linked and the new file written and fsynced.
KILLED_AT_THE_RENAME = textwrap.dedent(
    """
    import os, signal, sys
    from fastapi_issues.storage import JSONFileIssueStore

    path = sys.argv[1]
    real_replace = os.replace

    def replace(src, dst):
        if os.fspath(dst) == path:
            os.kill(os.getpid(), signal.SIGKILL)
        real_replace(src, dst)

    os.replace = replace
    JSONFileIssueStore(path)
    """
)


def bare_array(count: int) -> str:
    """Issues as 0.1.0 wrote them (one compact record per line), `count` of them."""
    issues = [
        {
            "id": f"00000000-0000-4000-8000-{n:012d}",
            "title": f"Issue {n}",
            "description": "Described well enough",
            "priority": "medium",
            "status": "open",
            "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-01T00:00:00Z",
        }
        for n in range(count)
    ]
    return "[\n" + ",\n".join(json.dumps(i) for i in issues) + "\n]\n"


def backups(folder: Path, name: str = "issues.json") -> list[Path]:
    return sorted(folder.glob(f"{name}.v1*.bak"))


def records(path: Path) -> list[dict[str, Any]]:
    data = json.loads(path.read_text())
    assert data["version"] == VERSIONS[path.stem.rsplit(".", 1)[-1]]
    result: list[dict[str, Any]] = data["records"]
    return result


def write_with_release_0_1(tmp_path: Path) -> tuple[Path, dict[str, list[dict[str, Any]]]]:
    """A data folder filled by 0.1.0's own stores, and what they read back from it."""
    old_src = extract_0_1_0(tmp_path / "release-0.1")
    folder = tmp_path / "data"
    folder.mkdir()
    done = subprocess.run(
        [sys.executable, "-c", WRITE_WITH_0_1, str(folder)],
        env={**os.environ, "PYTHONPATH": str(old_src)},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return folder, json.loads(done.stdout)


def same_fields(new: dict[str, Any], old: dict[str, Any]) -> dict[str, Any]:
    """`new` cut down to the fields 0.1.0 had."""
    return {key: new[key] for key in old}


async def test_a_data_folder_written_by_0_1_is_upgraded_and_served_intact(
    tmp_path: Path,
) -> None:
    folder, seen_by_0_1 = write_with_release_0_1(tmp_path)
    old_bytes = {name: (folder / f"{name}.json").read_bytes() for name in COLLECTIONS}
    assert all(content.startswith(b"[") for content in old_bytes.values())

    store = JSONFileIssueStore(folder / "issues.json")
    users = JSONFileUserStore(folder / "users.json")

    for name in COLLECTIONS:
        [backup] = backups(folder, f"{name}.json")
        assert backup.name == f"{name}.json.v1.bak"
        assert backup.read_bytes() == old_bytes[name]
        assert (
            (folder / f"{name}.json")
            .read_text()
            .startswith(
                f'{{"format": "fastapi-issues.{name}", "version": {VERSIONS[name]}, "records": [\n'
            )
        )
    assert (folder / "users.json").stat().st_mode & 0o777 == 0o600
    assert (folder / "users.json.v1.bak").stat().st_mode & 0o777 == 0o600

    issues = (await store.list(IssueQuery(limit=100))).items
    assert len(issues) == 6
    assert [
        same_fields(i.model_dump(mode="json"), old)
        for i, old in zip(issues, seen_by_0_1["issues"], strict=True)
    ] == seen_by_0_1["issues"]
    assert sum(1 for i in issues if i.status == "closed") == 2
    # 0.1's records have no due date, and read as having none: no format version needed.
    assert all(i.due_date is None for i in issues)
    assert sum(i.comment_count for i in issues) == len(seen_by_0_1["comments"]) == 6
    assert {name for i in issues for name in i.labels} == {"bug", "docs"}
    labels = (await store.list_labels()).items
    assert [label.model_dump(mode="json") for label in labels] == seen_by_0_1["labels"]
    comments = [c.model_dump(mode="json") async for c in store.export_comments()]
    assert comments == seen_by_0_1["comments"]
    stored_users = [
        u.model_dump(mode="json", exclude={"hashed_password"})
        | {"hashed_password": u.hashed_password.get_secret_value()}
        for u in await users.list()
    ]
    assert [
        same_fields(u, old) for u, old in zip(stored_users, seen_by_0_1["users"], strict=True)
    ] == seen_by_0_1["users"]
    store.close()
    users.close()

    # Opening again finds the current format: nothing is rewritten, no second backup.
    upgraded = {name: (folder / f"{name}.json").read_bytes() for name in COLLECTIONS}
    again = JSONFileIssueStore(folder / "issues.json")
    assert (await again.list(IssueQuery(limit=100))).total == 6
    assert {name: (folder / f"{name}.json").read_bytes() for name in COLLECTIONS} == upgraded
    # A due date set on an old record is written, read back and filtered on.
    await again.update(issues[0].id, IssueUpdate(due_date=date(2030, 1, 31)))
    again.close()
    upgraded = {name: (folder / f"{name}.json").read_bytes() for name in COLLECTIONS}
    again = JSONFileIssueStore(folder / "issues.json")
    due = await again.list(IssueQuery(due_before=date(2030, 1, 31)))
    assert [i.id for i in due.items] == [issues[0].id]
    JSONFileUserStore(folder / "users.json").close()
    assert {name: (folder / f"{name}.json").read_bytes() for name in COLLECTIONS} == upgraded
    assert len(list(folder.glob("*.bak"))) == 4
    again.close()


async def test_a_crash_course_array_of_issues_alone_is_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "issues.json"
    old = json.dumps(
        [
            {
                "id": "1",
                "title": "Issue 1",
                "description": "A test issue",
                "priority": "low",
                "status": "open",
            }
        ],
        indent=2,
    )
    path.write_text(old)
    store = JSONFileIssueStore(path)
    assert [i.title for i in (await store.list(IssueQuery())).items] == ["Issue 1"]
    assert [r["id"] for r in records(path)] == ["1"]
    assert [p.read_text() for p in backups(tmp_path)] == [old]
    # Labels and comments files are only made when used, and then born versioned.
    assert not (tmp_path / "labels.json").exists()
    await store.create_comment("1", CommentCreate(body="Hi"))
    assert [r["body"] for r in records(tmp_path / "comments.json")] == ["Hi"]
    assert backups(tmp_path, "comments.json") == []
    store.close()


@pytest.mark.parametrize("collection", COLLECTIONS)
async def test_a_file_of_a_newer_version_is_refused_and_left_alone(
    tmp_path: Path, collection: str
) -> None:
    path = tmp_path / f"{collection}.json"
    newer = VERSIONS[collection] + 1
    content = (
        f'{{"format": "fastapi-issues.{collection}", "version": {newer}, "records": [\n'
        '{"id": "1", "something": "new"}\n]}\n'
    )
    path.write_text(content)
    # Labels and comments are opened with the issues beside them.
    opener = JSONFileUserStore if collection == "users" else JSONFileIssueStore
    with pytest.raises(CorruptStoreError) as info:
        opener(tmp_path / ("users.json" if collection == "users" else "issues.json"))
    message = str(info.value)
    assert str(path) in message
    assert f"format version {newer}" in message
    assert f"reads versions up to {VERSIONS[collection]}" in message
    assert path.read_text() == content
    assert list(tmp_path.glob("*.bak")) == []


async def test_a_newer_file_appearing_while_running_is_refused_and_never_overwritten(
    tmp_path: Path,
) -> None:
    path = tmp_path / "issues.json"
    store = JSONFileIssueStore(path)
    await store.create(IssueCreate(title="Before", description="Described well enough"))
    newer = '{"format": "fastapi-issues.issues", "version": 9, "records": []}'
    path.write_text(newer)
    with pytest.raises(CorruptStoreError, match="format version 9"):
        await store.create(IssueCreate(title="After", description="Described well enough"))
    assert path.read_text() == newer
    store.close()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"format": "fastapi-issues.labels", "version": 2, "records": []}', "found 'fastapi"),
        ('{"format": "fastapi-issues.issues", "version": 1, "records": []}', "version 1"),
        ('{"format": "fastapi-issues.issues", "version": 2, "records": {}}', '"records"'),
        ('{"format": "fastapi-issues.issues", "version": 2}', '"records"'),
    ],
)
async def test_a_file_of_another_kind_is_refused_and_left_alone(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "issues.json"
    path.write_text(content)
    with pytest.raises(CorruptStoreError, match=str(path)) as info:
        JSONFileIssueStore(path)
    assert message in str(info.value)
    assert path.read_text() == content


def test_two_processes_opening_an_old_file_at_once_both_serve_it_and_back_it_up_once(
    tmp_path: Path,
) -> None:
    path = tmp_path / "issues.json"
    old = bare_array(300)
    path.write_text(old)
    start = time.time() + 2  # past both interpreters' start-up
    openers = [
        subprocess.Popen(
            [sys.executable, "-c", OPEN_AT, str(path), str(start)],
            env={**os.environ, "PYTHONPATH": SRC},
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [opener.communicate(timeout=120)[0] for opener in openers]
    assert [opener.returncode for opener in openers] == [0, 0]
    assert [output.strip() for output in outputs] == ["300", "300"]
    assert [p.read_text() for p in backups(tmp_path)] == [old]
    assert len(records(path)) == 300
    assert list(tmp_path.glob(".*.tmp")) == []


def test_kill_9_during_the_upgrade_leaves_the_old_file_and_the_next_start_upgrades(
    tmp_path: Path,
) -> None:
    path = tmp_path / "issues.json"
    old = bare_array(5)
    path.write_text(old)
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_AT_THE_RENAME, str(path)],
        env={**os.environ, "PYTHONPATH": SRC},
        timeout=120,
        check=False,
    )
    assert killed.returncode == -9
    # Killed between writing the new file and renaming it: the old file, whole, and its
    # backup already on disk; the new file is debris under a temporary name.
    assert path.read_text() == old
    assert [p.read_text() for p in backups(tmp_path)] == [old]
    [debris] = tmp_path.glob(".issues.json.*.tmp")
    assert json.loads(debris.read_text())["version"] == 4

    store = JSONFileIssueStore(path)
    assert asyncio.run(store.list(IssueQuery())).total == 5
    assert len(records(path)) == 5
    assert [p.read_text() for p in backups(tmp_path)] == [old]  # the same backup, kept
    assert list(tmp_path.glob(".*.tmp")) == []
    store.close()


async def test_the_backup_is_linked_before_the_new_file_replaces_the_old(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "issues.json"
    path.write_text(bare_array(2))
    steps: list[str] = []
    real_link, real_fsync, real_replace = os.link, os.fsync, os.replace

    def link(src: Any, dst: Any) -> None:
        steps.append("link")
        real_link(src, dst)

    def fsync(fd: int) -> None:
        steps.append("fsync")
        real_fsync(fd)

    def replace(src: Any, dst: Any) -> None:
        steps.append("replace")
        real_replace(src, dst)

    monkeypatch.setattr(os, "link", link)
    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    JSONFileIssueStore(path).close()
    # The backup's name on disk (the folder), the new file on disk, the rename, and the
    # folder again: a crash anywhere leaves the old file or the new one, and the backup.
    assert steps == ["link", "fsync", "fsync", "replace", "fsync"]


async def test_an_existing_backup_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "issues.json"
    old = bare_array(3)
    path.write_text(old)
    earlier = tmp_path / "issues.json.v1.bak"
    earlier.write_text("an older backup, kept by hand")
    JSONFileIssueStore(path).close()
    assert earlier.read_text() == "an older backup, kept by hand"
    assert (tmp_path / "issues.json.v1-2.bak").read_text() == old
    assert len(records(path)) == 3


async def test_without_hard_links_the_backup_is_a_copy_with_the_same_mode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "users.json"
    old = json.dumps([{"username": "ada", "hashed_password": "hash"}])
    path.write_text(old)
    path.chmod(0o600)

    def no_links(src: Any, dst: Any) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    store = JSONFileUserStore(path)
    assert (await store.get("ada")).username == "ada"
    backup = tmp_path / "users.json.v1.bak"
    assert backup.read_text() == old
    assert backup.stat().st_mode & 0o777 == 0o600
    assert records(path)[0]["username"] == "ada"
    store.close()


async def test_a_file_that_cannot_be_upgraded_is_still_served(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "issues.json"
    old = bare_array(2)
    path.write_text(old)

    def read_only(src: Any, dst: Any) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", read_only)
    with caplog.at_level(logging.WARNING, logger="fastapi_issues"):
        store = JSONFileIssueStore(path)
    assert "was not upgraded" in caplog.text
    assert (await store.list(IssueQuery())).total == 2
    assert path.read_text() == old
    assert list(tmp_path.glob(".*.tmp")) == []
    store.close()


async def test_the_version_is_checked_on_the_parse_a_reload_does_anyway(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A read that finds nothing changed never opens the file, so it never checks a version.
    path = tmp_path / "issues.json"
    store = JSONFileIssueStore(path)
    created = await store.create(IssueCreate(title="Cached", description="Described well"))
    opened: list[Any] = []
    real_read_text = Path.read_text

    def read_text(self: Path, *args: Any, **kwargs: Any) -> str:
        opened.append(self)
        return real_read_text(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", read_text)
    for _ in range(50):
        await store.get(created.id)
    assert opened == []
    store.close()
