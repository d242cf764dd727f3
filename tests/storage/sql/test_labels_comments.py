"""Labels, assignees and comments in SQL: tables joined by cascading foreign keys, indexed
lookups, and nothing lost when several stores (processes) edit one issue."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, inspect, select

from fastapi_issues import CommentCreate, IssueCreate, LabelCreate
from fastapi_issues.storage import IssueNotFound
from fastapi_issues.storage.sql import SQLIssueStore
from fastapi_issues.storage.sql._schema import comments, issue_assignees, issue_labels

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database URL; `#schema` names a PostgreSQL schema of this test's own."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'issues.db'}"
    postgres_url = request.getfixturevalue("postgres_url")
    schema = request.getfixturevalue("postgres_schema")
    return f"{postgres_url}#{schema}"


def open_store(url: str) -> SQLIssueStore:
    if "#" in url:
        base, schema = url.split("#")
        return SQLIssueStore(base, schema=schema)
    return SQLIssueStore(url)


@pytest.fixture
async def store(url: str) -> AsyncIterator[SQLIssueStore]:
    store = open_store(url)
    await store.create_schema()
    yield store
    await store.aclose()


async def rows(store: SQLIssueStore, table: object) -> int:
    async with store.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())  # type: ignore[arg-type]


def _new(**fields: object) -> IssueCreate:
    return IssueCreate(title="An issue", description="Something broke", **fields)  # type: ignore[arg-type]


async def test_tables_have_cascading_foreign_keys_and_indexes(store: SQLIssueStore) -> None:
    schema = store._db.schema

    def describe(conn: object) -> dict[str, object]:
        inspector = inspect(conn)
        return {
            table: (
                {
                    (
                        tuple(fk["constrained_columns"]),
                        fk["referred_table"],
                        fk["options"].get("ondelete"),
                    )
                    for fk in inspector.get_foreign_keys(table, schema=schema)
                },
                {index["name"] for index in inspector.get_indexes(table, schema=schema)},
            )
            for table in ("issue_assignees", "issue_labels", "comments", "labels")
        }

    async with store.engine.connect() as conn:
        found = await conn.run_sync(describe)
    assert found["issue_labels"][0] == {
        (("issue_id",), "issues", "CASCADE"),
        (("label_id",), "labels", "CASCADE"),
    }
    assert found["issue_assignees"][0] == {(("issue_id",), "issues", "CASCADE")}
    assert found["comments"][0] == {(("issue_id",), "issues", "CASCADE")}
    assert "ix_issue_labels_label" in found["issue_labels"][1]
    assert "ix_issue_assignees_username" in found["issue_assignees"][1]
    assert "ix_comments_issue" in found["comments"][1]


async def test_deleting_an_issue_deletes_its_rows(store: SQLIssueStore) -> None:
    await store.create_label(LabelCreate(name="bug"))
    gone = await store.create(_new(assignees=["ada", "bob"]))
    kept = await store.create(_new(assignees=["ada"]))
    for issue in (gone, kept):
        await store.add_issue_labels(issue.id, ["bug"])
        await store.create_comment(issue.id, CommentCreate(body="Hi"))
    await store.delete(gone.id)
    assert await rows(store, comments) == 1
    assert await rows(store, issue_labels) == 1
    assert await rows(store, issue_assignees) == 1
    assert (await store.get(kept.id)).comment_count == 1


async def test_deleting_a_label_deletes_its_links(store: SQLIssueStore) -> None:
    await store.create_label(LabelCreate(name="bug"))
    await store.create_label(LabelCreate(name="ui"))
    issue = await store.set_issue_labels((await store.create(_new())).id, ["bug", "ui"])
    await store.delete_label("BUG")
    assert await rows(store, issue_labels) == 1
    assert (await store.get(issue.id)).labels == ["ui"]


async def test_a_comment_needs_its_issue(store: SQLIssueStore) -> None:
    with pytest.raises(IssueNotFound):
        await store.create_comment("no-such-issue", CommentCreate(body="Orphan"))
    assert await rows(store, comments) == 0


async def test_two_stores_editing_one_issue_lose_nothing(url: str) -> None:
    """As two app processes sharing the database would."""
    first, second = open_store(url), open_store(url)
    try:
        await first.create_schema()
        names = [f"label-{n:02}" for n in range(20)]
        for name in names:
            await first.create_label(LabelCreate(name=name))
        issue = await first.set_issue_labels((await first.create(_new())).id, names[:10])
        stores = [first, second]
        await asyncio.gather(
            *(
                stores[n % 2].add_issue_labels(issue.id, [name])
                for n, name in enumerate(names[10:])
            ),
            *(
                stores[n % 2].remove_issue_labels(issue.id, [name])
                for n, name in enumerate(names[:5])
            ),
            *(
                stores[n % 2].create_comment(issue.id, CommentCreate(body=f"Note {n}"))
                for n in range(50)
            ),
        )
        final = await second.get(issue.id)
        assert final.labels == names[5:]
        assert final.version == issue.version + 15
        assert final.comment_count == 50
    finally:
        await first.aclose()
        await second.aclose()
