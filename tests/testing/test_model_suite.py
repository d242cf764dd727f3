"""The model-based suite on every store we ship: each must agree with the reference model.

Example counts are per store, chosen so that each runs in well under a minute on the CI
machine; `--hypothesis-profile=long` runs thousands of sequences instead (see
`docs/storage.md`).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from fastapi_issues import InMemoryIssueStore, JSONFileIssueStore
from fastapi_issues.storage.clock import Clock
from fastapi_issues.testing import tracker_state_machine

from ..conftest import POSTGRES_HOW_TO, POSTGRES_URL_VARIABLE

KEPT = 2
"""Finished deliveries per hook the stores keep here: small, so that runs of 30 steps
drop some (the default, `FINISHED_KEPT`, is for the contract suite to reach)."""


def _settings(examples: int) -> settings:
    """`examples` sequences of up to 30 steps, unless a profile other than the default is
    loaded (`--hypothesis-profile=long`)."""
    if settings._current_profile not in (None, "default"):  # type: ignore[attr-defined]
        return settings()
    return settings(
        max_examples=examples,
        stateful_step_count=30,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


@asynccontextmanager
async def memory_store(clock: Clock) -> AsyncIterator[InMemoryIssueStore]:
    yield InMemoryIssueStore(clock=clock, deliveries_kept=KEPT)


class OnlyIssues:
    """The five `IssueStore` methods of a memory store and nothing else: a plain store."""

    def __init__(self, store: InMemoryIssueStore) -> None:
        self.create, self.get, self.list = store.create, store.get, store.list
        self.update, self.delete = store.update, store.delete


@asynccontextmanager
async def plain_store(clock: Clock) -> AsyncIterator[OnlyIssues]:
    yield OnlyIssues(InMemoryIssueStore(clock=clock))


@asynccontextmanager
async def json_store(clock: Clock) -> AsyncIterator[JSONFileIssueStore]:
    folder = tempfile.mkdtemp(prefix="model-json-")
    try:
        yield JSONFileIssueStore(Path(folder) / "issues.json", clock=clock, deliveries_kept=KEPT)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@asynccontextmanager
async def sqlite_store(clock: Clock) -> AsyncIterator[Any]:
    from fastapi_issues.storage.sql import SQLIssueStore

    folder = tempfile.mkdtemp(prefix="model-sqlite-")
    store = SQLIssueStore(f"sqlite:///{folder}/issues.db", clock=clock, deliveries_kept=KEPT)
    try:
        await store.create_schema()
        yield store
    finally:
        await store.aclose()
        shutil.rmtree(folder, ignore_errors=True)


_PG_SCHEMA = f"model_{uuid.uuid4().hex[:12]}"


@asynccontextmanager
async def postgres_store(clock: Clock) -> AsyncIterator[Any]:
    from fastapi_issues.storage.sql import SQLIssueStore

    store = SQLIssueStore(
        os.environ[POSTGRES_URL_VARIABLE], schema=_PG_SCHEMA, clock=clock, deliveries_kept=KEPT
    )
    try:
        await store.create_schema()
        async with store.engine.begin() as conn:
            tables = ", ".join(
                f'"{_PG_SCHEMA}".{t}'
                for t in (
                    "issues",
                    "labels",
                    "comments",
                    "issue_labels",
                    "issue_assignees",
                    "issue_events",
                    "issue_event_ids",
                    "hooks",
                    "hook_deliveries",
                    "hook_lease",
                )
            )
            await conn.exec_driver_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
        yield store
    finally:
        await store.aclose()


TestMemoryStore = tracker_state_machine(
    memory_store, name="MemoryStore", deliveries_kept=KEPT
).TestCase
TestMemoryStore.settings = _settings(150)

TestPlainIssueStore = tracker_state_machine(
    plain_store, collaboration=False, name="PlainIssueStore"
).TestCase
TestPlainIssueStore.settings = _settings(50)

TestJSONFileStore = tracker_state_machine(
    json_store, name="JSONFileStore", deliveries_kept=KEPT
).TestCase
TestJSONFileStore.settings = _settings(100)

TestSQLiteStore = tracker_state_machine(
    sqlite_store, name="SQLiteStore", deliveries_kept=KEPT
).TestCase
TestSQLiteStore.settings = _settings(40)

TestPostgreSQLStore = pytest.mark.postgres(
    pytest.mark.skipif(not os.environ.get(POSTGRES_URL_VARIABLE), reason=POSTGRES_HOW_TO)(
        tracker_state_machine(postgres_store, name="PostgreSQLStore", deliveries_kept=KEPT).TestCase
    )
)
TestPostgreSQLStore.settings = _settings(40)


@pytest.fixture(scope="module", autouse=True)
def _drop_postgres_schema() -> Any:
    yield
    url = os.environ.get(POSTGRES_URL_VARIABLE)
    if not url:
        return
    import asyncio

    from sqlalchemy.ext.asyncio import create_async_engine

    async def drop() -> None:
        engine = create_async_engine(url)
        async with engine.begin() as conn:
            await conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{_PG_SCHEMA}" CASCADE')
        await engine.dispose()

    asyncio.run(drop())
