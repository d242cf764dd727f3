"""Importing and exporting issues as they are, the same way on every store."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from fastapi_issues import IssueCreate, IssueOut, IssuePriority, IssueQuery, IssueStatus
from fastapi_issues.schemas import IssueUpdate
from fastapi_issues.storage import (
    InMemoryIssueStore,
    IssueExporter,
    IssueImporter,
    IssueStore,
    JSONFileIssueStore,
)
from fastapi_issues.storage.urls import close_store

pytestmark = pytest.mark.anyio

T0 = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)

StoreFactory = Callable[[], Awaitable[Any]]


@pytest.fixture(
    params=["memory", "json", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
async def new_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StoreFactory]:
    """Makes empty stores of one kind; closes them after the test."""
    opened: list[tuple[Any, str | None]] = []
    postgres_url = request.getfixturevalue("postgres_url") if request.param == "postgres" else ""

    async def make() -> Any:
        name = f"store{len(opened)}"
        schema = None
        if request.param == "memory":
            store: Any = InMemoryIssueStore()
        elif request.param == "json":
            store = JSONFileIssueStore(tmp_path / f"{name}.json")
        elif request.param == "sqlite":
            from fastapi_issues.storage.sql import SQLIssueStore

            store = SQLIssueStore(f"sqlite:///{tmp_path / name}.db")
        else:
            from fastapi_issues.storage.sql import SQLIssueStore

            schema = f"test_{uuid.uuid4().hex[:16]}"
            store = SQLIssueStore(postgres_url, schema=schema)
        opened.append((store, schema))
        return store

    yield make
    for store, schema in opened:
        if schema is not None:
            async with store.engine.begin() as conn:
                await conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await close_store(store)


def issue(n: int, **fields: Any) -> IssueOut:
    values: dict[str, Any] = {
        "id": str(uuid.UUID(int=n + 1)),
        "title": f"Imported {n:04}",
        "description": "Came from another store",
        "priority": IssuePriority.medium,
        "status": IssueStatus.open,
        "created_at": T0 + timedelta(seconds=n),
        "updated_at": T0 + timedelta(seconds=n),
        "reporter": None,
        "version": 1,
    }
    return IssueOut(**{**values, **fields})


async def exported(store: IssueExporter) -> list[IssueOut]:
    return [item async for item in store.export_issues()]


async def test_every_store_offers_import_and_export(new_store: StoreFactory) -> None:
    store = await new_store()
    assert isinstance(store, IssueImporter)
    assert isinstance(store, IssueExporter)


async def test_export_lists_current_issues_in_creation_order(new_store: StoreFactory) -> None:
    store = await new_store()
    a = await store.create(IssueCreate(title="Zulu", description="First made"))
    b = await store.create(IssueCreate(title="Alpha", description="Second made"))
    c = await store.create(IssueCreate(title="Mike", description="Third made"))
    a2 = await store.update(a.id, IssueUpdate(status=IssueStatus.closed))
    await store.delete(b.id)
    assert await exported(store) == [a2, c]


async def test_import_keeps_every_field_and_the_order(new_store: StoreFactory) -> None:
    store = await new_store()
    items = [
        # Times out of creation order and equal titles: order must come from the list.
        issue(0, title="Same title", created_at=T0 + timedelta(hours=1), updated_at=T0),
        issue(1, title="Same title", reporter="ada", version=7, status=IssueStatus.closed),
        issue(2, priority=IssuePriority.high, updated_at=T0 + timedelta(days=3)),
    ]
    assert await store.import_issues(items) == 3
    assert await exported(store) == items
    for item in items:
        assert await store.get(item.id) == item
    by_title = await store.list(IssueQuery(sort="title", direction="desc"))
    assert [i.id for i in by_title.items] == [items[0].id, items[1].id, items[2].id]


async def test_import_skips_ids_already_present_and_appends_the_rest(
    new_store: StoreFactory,
) -> None:
    store = await new_store()
    mine = await store.create(IssueCreate(title="Already here", description="Made locally"))
    clash = issue(5, id=mine.id, title="Would overwrite")
    assert await store.import_issues([issue(1), clash, issue(2)]) == 2
    assert await store.get(mine.id) == mine
    assert [i.id for i in await exported(store)] == [mine.id, issue(1).id, issue(2).id]
    # Running it again adds nothing.
    assert await store.import_issues([issue(1), clash, issue(2)]) == 0
    assert (await store.list(IssueQuery())).total == 3
    # And the store goes on as usual afterwards.
    later = await store.create(IssueCreate(title="Made after", description="Made locally"))
    assert [i.id for i in await exported(store)][-1] == later.id


async def test_import_reads_naive_times_as_utc(new_store: StoreFactory) -> None:
    store = await new_store()
    naive = issue(0, created_at=T0.replace(tzinfo=None), updated_at=T0.replace(tzinfo=None))
    await store.import_issues([naive, issue(1)])
    stored = await store.get(naive.id)
    assert stored.created_at == T0
    assert stored.created_at.utcoffset() == timedelta(0)
    since = await store.list(IssueQuery(created_since=T0 + timedelta(microseconds=1)))
    assert [i.id for i in since.items] == [issue(1).id]


async def test_large_imports_keep_their_order(new_store: StoreFactory) -> None:
    store = await new_store()
    items = [issue(n) for n in range(1234)]
    assert await store.import_issues(items) == 1234
    assert [i.id for i in await exported(store)] == [i.id for i in items]
    assert (await store.list(IssueQuery())).total == 1234


async def test_importing_nothing_adds_nothing(new_store: StoreFactory) -> None:
    store: IssueStore = await new_store()
    assert await store.import_issues([]) == 0  # type: ignore[attr-defined]
