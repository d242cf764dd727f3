"""The SQL stores' direct paths (`_sql_direct`) and PostgreSQL's kept counts give the same
answers as the engine, including after writes by other stores on the same database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from fastapi_issues import IssueCreate, IssueQuery, IssueStatus, IssueUpdate
from fastapi_issues.storage.sql import SQLIssueStore

pytestmark = pytest.mark.anyio


def _new(n: int) -> IssueCreate:
    return IssueCreate(title=f"Issue {n:03}", description="Something broke")


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str | None]:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'issues.db'}", None
    return request.getfixturevalue("postgres_url"), request.getfixturevalue("postgres_schema")


@pytest.fixture
async def two_stores(
    database: tuple[str, str | None],
) -> AsyncIterator[tuple[SQLIssueStore, SQLIssueStore]]:
    """Two stores on one database, as two app processes would have."""
    url, schema = database
    first, second = SQLIssueStore(url, schema=schema), SQLIssueStore(url, schema=schema)
    await first.create_schema()
    yield first, second
    await first.aclose()
    await second.aclose()


async def test_totals_follow_writes_made_elsewhere(
    two_stores: tuple[SQLIssueStore, SQLIssueStore],
) -> None:
    reader, writer = two_stores
    for n in range(5):
        await writer.create(_new(n))
    full_page = IssueQuery(limit=2)
    # Twice with nothing written between: the second may use what the first counted.
    assert (await reader.list(full_page)).total == 5
    assert (await reader.list(full_page)).total == 5
    created = await writer.create(_new(5))
    assert (await reader.list(full_page)).total == 6
    await writer.delete(created.id)
    assert (await reader.list(full_page)).total == 5
    issue = (await reader.list(IssueQuery(limit=1))).items[0]
    open_page = IssueQuery(status=[IssueStatus.open], limit=2)
    assert (await reader.list(open_page)).total == 5
    await writer.update(issue.id, IssueUpdate(status=IssueStatus.closed))
    assert (await reader.list(open_page)).total == 4
    assert (await reader.list(IssueQuery(status=[IssueStatus.closed], limit=2))).total == 1


async def test_reads_see_what_was_just_written(
    two_stores: tuple[SQLIssueStore, SQLIssueStore],
) -> None:
    reader, writer = two_stores
    for n in range(3):
        created = await writer.create(_new(n))
        assert await reader.get(created.id) == created
        changed = await writer.update(created.id, IssueUpdate(title=f"Changed {n:03}"))
        assert await reader.get(created.id) == changed
