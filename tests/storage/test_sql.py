"""The SQL store on SQLite and PostgreSQL: the contract suite, and what only SQL stores do."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from fastapi_issues.storage.sql import SQLIssueStore
from fastapi_issues.testing import IssueStoreContract


class TestSQLiteIssueStore(IssueStoreContract):
    @pytest.fixture
    async def store(self, tmp_path: Path) -> AsyncIterator[SQLIssueStore]:
        store = SQLIssueStore(f"sqlite:///{tmp_path / 'issues.db'}")
        await store.create_schema()
        yield store
        await store.aclose()


class TestSQLiteIssueStoreTwoConnections(IssueStoreContract):
    """Writes go through one store and reads through another on the same file, as they
    would from two processes."""

    @pytest.fixture
    async def store(self, tmp_path: Path) -> AsyncIterator[object]:
        url = f"sqlite+aiosqlite:///{tmp_path / 'issues.db'}"
        writer = SQLIssueStore(url)
        reader = SQLIssueStore(url)

        class SplitStore:
            create = writer.create
            update = writer.update
            delete = writer.delete
            get = reader.get
            list = reader.list

        yield SplitStore()
        await writer.aclose()
        await reader.aclose()


class TestPostgresIssueStore(IssueStoreContract):
    @pytest.fixture
    async def store(self, postgres_url: str, postgres_schema: str) -> AsyncIterator[SQLIssueStore]:
        store = SQLIssueStore(postgres_url, schema=postgres_schema)
        await store.create_schema()
        yield store
        await store.aclose()
