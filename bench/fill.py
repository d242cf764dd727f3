"""Fill a store with N issues directly, before its server starts: no HTTP, no per-issue
round trips."""

from __future__ import annotations

import asyncio
import json
import urllib.parse
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi_issues.schemas import CommentOut, IssueOut, IssuePriority, IssueStatus
from fastapi_issues.storage.urls import close_store, open_issue_store, prepare_store

_PRIORITIES = list(IssuePriority)
_STATUSES = list(IssueStatus)
_START = datetime(2024, 1, 1, tzinfo=UTC)


def make_issues(count: int, reporter: str | None = "johndoe") -> Iterator[IssueOut]:
    """`count` varied issues, created a minute apart."""
    for n in range(count):
        moment = _START + timedelta(minutes=n)
        yield IssueOut(
            id=str(uuid.uuid4()),
            title=f"Issue number {n}",
            description=f"Filled by the benchmark; issue {n} of {count}.",
            priority=_PRIORITIES[n % len(_PRIORITIES)],
            status=_STATUSES[(n // 3) % len(_STATUSES)],
            created_at=moment,
            updated_at=moment,
            reporter=reporter,
            version=1,
        )


def fill_json(path: Path, count: int) -> list[str]:
    """Write `count` issues as the JSON store writes its file; return their ids."""
    issues = list(make_issues(count))
    path.parent.mkdir(parents=True, exist_ok=True)
    head = '{"format": "fastapi-issues.issues", "version": 2, "records": [\n'
    path.write_text(head + ",\n".join(i.model_dump_json() for i in issues) + "\n]}\n")
    return [issue.id for issue in issues]


def count_json(path: Path) -> set[str]:
    """The ids in a JSON store's file, as on disk now."""
    return {item["id"] for item in json.loads(path.read_text())["records"]}


def fill_sql(url: str, count: int) -> list[str]:
    """Add `count` issues to the SQL store at `url` through its bulk import; their ids."""
    issues = list(make_issues(count))

    async def fill() -> None:
        store: Any = open_issue_store(url)
        try:
            await prepare_store(store)
            added = await store.import_issues(issues)
        finally:
            await close_store(store)
        if added != count:
            raise RuntimeError(f"{url}: imported {added} of {count} issues")

    asyncio.run(fill())
    return [issue.id for issue in issues]


def fill_sql_in_batches(url: str, count: int, *, batch: int = 20_000) -> tuple[int, int]:
    """Add `count` issues to the SQL store at `url`, `batch` at a time, so that a million
    fit in little memory: every third with a label and an assignee, every tenth with a
    comment. Returns (issues, comments) added; for `migrate`'s measurements."""

    async def fill() -> tuple[int, int]:
        store: Any = open_issue_store(url)
        added = commented = 0
        try:
            await prepare_store(store)
            made = make_issues(count)
            for start in range(0, count, batch):
                issues = [_dressed(issue, start + n) for n, issue in enumerate(_take(made, batch))]
                added += await store.import_issues(issues)
                notes = [_comment_on(issue) for n, issue in enumerate(issues) if n % 10 == 0]
                commented += await store.import_comments(notes)
        finally:
            await close_store(store)
        return added, commented

    return asyncio.run(fill())


def _take(issues: Iterator[IssueOut], count: int) -> Iterator[IssueOut]:
    for _, issue in zip(range(count), issues, strict=False):
        yield issue


def _dressed(issue: IssueOut, n: int) -> IssueOut:
    if n % 3:
        return issue
    return issue.model_copy(update={"labels": [f"area-{n % 7}"], "assignees": ["ada"]})


def _comment_on(issue: IssueOut) -> CommentOut:
    return CommentOut(
        id=str(uuid.uuid4()),
        issue_id=issue.id,
        body=f"A note on {issue.title}",
        author="ada",
        created_at=issue.created_at,
        updated_at=issue.created_at,
    )


def fresh_postgres_database(server_url: str, name: str) -> str:
    """Drop and create database `name` on the server `server_url` points at; its URL."""
    import asyncpg  # type: ignore[import-untyped]

    parts = urllib.parse.urlsplit(server_url)
    plain = parts._replace(scheme="postgresql").geturl()

    async def recreate() -> None:
        connection = await asyncpg.connect(plain)
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()

    asyncio.run(recreate())
    return parts._replace(scheme="postgresql", path=f"/{name}").geturl()


def drop_postgres_database(server_url: str, name: str) -> None:
    import asyncpg  # type: ignore[import-untyped]

    plain = urllib.parse.urlsplit(server_url)._replace(scheme="postgresql").geturl()

    async def drop() -> None:
        connection = await asyncpg.connect(plain)
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await connection.close()

    asyncio.run(drop())


if __name__ == "__main__":
    import sys

    print(fill_sql_in_batches(sys.argv[1], int(sys.argv[2])))
