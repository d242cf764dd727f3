"""`migrate(from_url, to_url)`: every issue copied once, exactly as it was."""

from __future__ import annotations

import asyncio
import json
import tracemalloc
from datetime import date
from pathlib import Path

import pytest
from pydantic import SecretStr

from fastapi_issues import (
    CommentCreate,
    IssueCreate,
    IssueOut,
    IssueQuery,
    IssueStatus,
    IssueUpdate,
)
from fastapi_issues.auth.urls import open_user_store
from fastapi_issues.auth.users import UserInDB
from fastapi_issues.migrate import MigrationReport, migrate, migrate_stores
from fastapi_issues.storage import InMemoryIssueStore, JSONFileIssueStore
from fastapi_issues.storage.urls import close_store, open_issue_store

pytestmark = pytest.mark.anyio


async def fill(url: str) -> list[IssueOut]:
    """Ten issues in the store at `url`, some changed, one gone, some due (two on one day);
    returned as stored."""
    store = open_issue_store(url)
    try:
        made = [
            await store.create(
                IssueCreate(
                    title=f"Issue {n % 3}",
                    description="Needs copying",
                    due_date=date(2024, 5, 1 + n % 4) if n % 3 else None,
                ),
                reporter="ada" if n % 2 else None,
            )
            for n in range(10)
        ]
        await store.update(made[2].id, IssueUpdate(status=IssueStatus.closed))
        await store.update(made[2].id, IssueUpdate(title="Changed twice"))
        await store.delete(made[5].id)
        return [item async for item in store.export_issues()]  # type: ignore[attr-defined]
    finally:
        await close_store(store)


async def contents(url: str) -> list[IssueOut]:
    store = open_issue_store(url)
    try:
        return [item async for item in store.export_issues()]  # type: ignore[attr-defined]
    finally:
        await close_store(store)


async def listed(url: str, **query: object) -> list[str]:
    store = open_issue_store(url)
    try:
        page = await store.list(IssueQuery(limit=100, **query))  # type: ignore[arg-type]
        return [issue.id for issue in page.items]
    finally:
        await close_store(store)


async def test_json_to_sqlite_copies_everything_once(tmp_path: Path) -> None:
    source = str(tmp_path / "issues.json")
    target = f"sqlite:///{tmp_path / 'issues.db'}"
    original = await fill(source)
    assert len(original) == 9

    report = await migrate(source, target)
    assert report == MigrationReport(issues_copied=9, issues_already_present=0)
    assert await contents(target) == original
    assert {issue.due_date for issue in original} == {
        None,
        *(date(2024, 5, d) for d in (1, 2, 3, 4)),
    }
    for query in (
        {},
        {"sort": "title", "direction": "desc"},
        {"sort": "updated_at"},
        {"sort": "due_date", "direction": "desc"},
        {"due_after": date(2024, 5, 2), "due_before": date(2024, 5, 3)},
    ):
        assert await listed(target, **query) == await listed(source, **query)

    again = await migrate(source, target)
    assert again == MigrationReport(issues_copied=0, issues_already_present=9)
    assert await contents(target) == original


async def test_only_the_missing_issues_are_copied(tmp_path: Path) -> None:
    source = str(tmp_path / "issues.json")
    target = f"sqlite:///{tmp_path / 'issues.db'}"
    original = await fill(source)
    partial = open_issue_store(target)
    await partial.import_issues(original[:4])  # type: ignore[attr-defined]
    await close_store(partial)
    report = await migrate(source, target)
    assert report == MigrationReport(issues_copied=5, issues_already_present=4)
    assert await contents(target) == original


async def test_a_crash_course_file_migrates(tmp_path: Path) -> None:
    source = tmp_path / "issues.json"
    source.write_text(
        json.dumps(
            [
                {
                    "id": "1b6c5d9e-0000-4000-8000-000000000001",
                    "title": "Old format",
                    "description": "Written before timestamps",
                    "priority": "high",
                    "status": "open",
                }
            ]
        )
    )
    target = f"sqlite:///{tmp_path / 'issues.db'}"
    assert (await migrate(str(source), target)).issues_copied == 1
    [copied] = await contents(target)
    assert copied.title == "Old format"
    assert copied.created_at.utcoffset() is not None


@pytest.mark.slow
async def test_sqlite_to_postgres_and_back_to_json(tmp_path: Path, postgres_database: str) -> None:
    first = f"sqlite:///{tmp_path / 'issues.db'}"
    original = await fill(first)
    assert await migrate(first, postgres_database) == MigrationReport(9, 0)
    assert await contents(postgres_database) == original
    back = str(tmp_path / "back.json")
    assert await migrate(postgres_database, back) == MigrationReport(9, 0)
    assert await contents(back) == original
    assert await migrate(first, postgres_database) == MigrationReport(0, 9)
    query = {"sort": "priority", "direction": "desc"}
    assert await listed(postgres_database, **query) == await listed(first, **query)


async def test_a_missing_source_is_refused_and_not_created(tmp_path: Path) -> None:
    target = str(tmp_path / "target.json")
    with pytest.raises(ValueError, match="does not exist"):
        await migrate(str(tmp_path / "nope.json"), target)
    with pytest.raises(ValueError, match="does not exist"):
        await migrate(f"sqlite:///{tmp_path / 'nope.db'}", target)
    with pytest.raises(ValueError, match="nothing to migrate"):
        await migrate("memory://", target)
    assert not (tmp_path / "nope.db").exists()
    assert not (tmp_path / "target.json").exists()


async def test_an_unknown_scheme_is_named_before_anything_is_opened(tmp_path: Path) -> None:
    source = str(tmp_path / "issues.json")
    await fill(source)
    with pytest.raises(ValueError, match="unsupported issue store URL scheme 'ftp'"):
        await migrate("ftp://host/issues.json", str(tmp_path / "target.json"))
    with pytest.raises(ValueError, match="unsupported issue store URL scheme 'mysql'"):
        await migrate(source, "mysql://root@host/db")
    assert not (tmp_path / "target.json").exists()


async def test_stores_without_export_are_read_page_by_page(tmp_path: Path) -> None:
    class ListOnly:
        """A third-party store: the IssueStore protocol and nothing more."""

        def __init__(self, inner: InMemoryIssueStore) -> None:
            self.create = inner.create
            self.get = inner.get
            self.list = inner.list
            self.update = inner.update
            self.delete = inner.delete

    inner = InMemoryIssueStore()
    for n in range(7):
        await inner.create(IssueCreate(title=f"Issue {n}", description="Paged out"))
    target = JSONFileIssueStore(tmp_path / "target.json")
    try:
        report = await migrate_stores(ListOnly(inner), target, batch_size=3)
        assert report == MigrationReport(issues_copied=7, issues_already_present=0)
        copied = [item async for item in target.export_issues()]
        assert copied == [item async for item in inner.export_issues()]
    finally:
        target.close()


async def test_a_target_that_cannot_import_is_refused() -> None:
    with pytest.raises(TypeError, match="cannot import"):
        await migrate_stores(InMemoryIssueStore(), object())  # type: ignore[arg-type]


def stored_user(name: str, *, disabled: bool = False) -> UserInDB:
    return UserInDB(
        username=name,
        email=f"{name}@example.com",
        full_name=name.title(),
        disabled=disabled,
        hashed_password=SecretStr(f"$argon2id$hash-of-{name}"),
    )


async def add_users(url: str, *names: str) -> list[UserInDB]:
    store = open_user_store(url)
    try:
        made = [await store.create(stored_user(n, disabled=n == "mallory")) for n in names]
    finally:
        await close_store(store)
    return made


async def users_in(url: str) -> list[UserInDB]:
    store = open_user_store(url, create=False)
    try:
        return list(await store.list())
    finally:
        await close_store(store)


async def test_users_come_along_with_their_hashes(tmp_path: Path) -> None:
    source = str(tmp_path / "data" / "issues.json")
    target = f"sqlite:///{tmp_path / 'issues.db'}"
    await fill(source)
    made = await add_users(source, "grace", "ada", "mallory")
    report = await migrate(source, target)
    assert (report.users_copied, report.users_already_present) == (3, 0)
    copied = await users_in(target)
    assert copied == sorted(made, key=lambda u: u.username)
    assert [u.hashed_password.get_secret_value() for u in copied] == [
        "$argon2id$hash-of-ada",
        "$argon2id$hash-of-grace",
        "$argon2id$hash-of-mallory",
    ]
    assert [u.disabled for u in copied] == [False, False, True]

    await add_users(source, "linus")
    again = await migrate(source, target)
    assert again == MigrationReport(0, 9, users_copied=1, users_already_present=3)


async def test_users_can_be_left_behind(tmp_path: Path) -> None:
    source = str(tmp_path / "issues.json")
    target = str(tmp_path / "copy" / "issues.json")
    await fill(source)
    await add_users(source, "ada")
    assert await migrate(source, target, users=False) == MigrationReport(9, 0)
    assert not (tmp_path / "copy" / "users.json").exists()


@pytest.mark.slow
async def test_issues_and_users_from_sqlite_to_postgres(
    tmp_path: Path, postgres_database: str
) -> None:
    source = f"sqlite:///{tmp_path / 'issues.db'}"
    original = await fill(source)
    made = await add_users(source, "ada", "bob")
    report = await migrate(source, postgres_database)
    assert report == MigrationReport(9, 0, users_copied=2, users_already_present=0)
    assert await contents(postgres_database) == original
    assert await users_in(postgres_database) == made


async def add_comments(url: str, per_issue: int) -> int:
    """`per_issue` comments on each issue at `url`; how many in all."""
    store = open_issue_store(url)
    try:
        ids = [issue.id async for issue in store.export_issues()]  # type: ignore[attr-defined]
        for issue_id in ids:
            for n in range(per_issue):
                await store.create_comment(  # type: ignore[attr-defined]
                    issue_id, CommentCreate(body=f"Note {n}"), author="ada"
                )
    finally:
        await close_store(store)
    return len(ids) * per_issue


async def test_progress_is_told_each_batch_with_cheap_totals(tmp_path: Path) -> None:
    source = f"sqlite:///{tmp_path / 'issues.db'}"
    await fill(source)
    comments = await add_comments(source, per_issue=2)
    await add_users(source, "ada", "bob")
    told: list[tuple[str, int, int | None]] = []

    def progress(what: str, done: int, total: int | None) -> None:
        told.append((what, done, total))

    report = await migrate(source, str(tmp_path / "copy.json"), batch_size=4, progress=progress)
    assert report == MigrationReport(
        9, 0, comments_copied=comments, users_copied=2, users_already_present=0
    )
    assert told == [
        ("labels", 0, 0),
        ("issues", 0, 9),
        ("issues", 4, 9),
        ("issues", 8, 9),
        ("issues", 9, 9),
        ("comments", 0, 18),
        ("comments", 4, 18),
        ("comments", 8, 18),
        ("comments", 12, 18),
        ("comments", 16, 18),
        ("comments", 18, 18),
        ("users", 1, 2),
        ("users", 2, 2),
    ]


async def test_migrate_writes_nothing_unless_given_a_progress_callback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = str(tmp_path / "issues.json")
    await fill(source)
    await add_users(source, "ada")
    await migrate(source, f"sqlite:///{tmp_path / 'issues.db'}")
    assert capsys.readouterr() == ("", "")


def _fill_sqlite(url: str, count: int) -> None:
    """`count` issues, every third labelled and assigned, a comment on every tenth."""
    from bench.fill import fill_sql_in_batches

    assert fill_sql_in_batches(url, count, batch=5_000) == (count, (count + 9) // 10)


def _peak_of_migrating(source: str, target: str) -> int:
    """The most memory Python held at once while `migrate` copied `source` to `target`."""
    tracemalloc.start()
    try:
        report = asyncio.run(migrate(source, target, users=False))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert report.issues_already_present == 0
    return peak


@pytest.mark.slow
def test_migrating_four_times_the_issues_takes_no_more_memory(tmp_path: Path) -> None:
    # Export reads a batch at a time and import keeps no set of every id: what Python holds
    # at its peak is a few batches, whatever the size of the tables. Reading every row at
    # once would hold 4x as much for 4x the issues (measured: 3.3 MB, then 7.6 MB; a batch
    # at a time, 2.8 MB, then 2.4 MB).
    small, large = 1_500, 6_000
    for count in (200, small, large):
        _fill_sqlite(f"sqlite:///{tmp_path / f'{count}.db'}", count)
    # The first run fills the caches (statements, validators) that every run shares.
    _peak_of_migrating(f"sqlite:///{tmp_path / '200.db'}", f"sqlite:///{tmp_path / 'w.db'}")
    peaks = {
        count: _peak_of_migrating(
            f"sqlite:///{tmp_path / f'{count}.db'}", f"sqlite:///{tmp_path / f'to-{count}.db'}"
        )
        for count in (small, large)
    }
    assert peaks[large] < peaks[small] * 1.3, peaks
