"""A SQL store's live readers learn of other processes' writes: SQLite by `PRAGMA
data_version` on a connection of their own, PostgreSQL by LISTEN/NOTIFY on one detached
connection that comes back after it drops."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from fastapi_issues import IssueCreate, IssueUpdate, LabelCreate
from fastapi_issues.storage.errors import StaleVersion
from fastapi_issues.storage.query import EventQuery
from fastapi_issues.storage.sql import SQLIssueStore
from fastapi_issues.storage.sql._listen import listener_name, wake_channel
from tests.storage.remote_writer import RemoteWriter
from tests.tcp_proxy import TCPProxy

pytestmark = pytest.mark.anyio


def _new() -> IssueCreate:
    return IssueCreate(title="An issue", description="Something broke")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, ...]:
    """What `RemoteWriter` is given: a SQLite URL, or a PostgreSQL URL and schema."""
    if request.param == "sqlite":
        return (f"sqlite:///{tmp_path / 'issues.db'}",)
    return (request.getfixturevalue("postgres_url"), request.getfixturevalue("postgres_schema"))


@pytest.fixture
async def store(target: tuple[str, ...]) -> AsyncIterator[SQLIssueStore]:
    store = SQLIssueStore(target[0], schema=target[1] if len(target) > 1 else None)
    await store.create_schema()
    yield store
    await store.aclose()


async def test_a_write_in_another_process_wakes_a_waiter(
    store: SQLIssueStore, target: tuple[str, ...]
) -> None:
    await store.create(_new())
    async with RemoteWriter("sql", *target) as writer:
        for _ in range(3):
            seen = await store.last_event_id()
            waiter = asyncio.create_task(store.wait_for_events(seen))
            await asyncio.sleep(0.12)  # settled in: nothing new yet
            assert not waiter.done()
            await writer.write()
            # A notification, or one look at data_version (~50 ms); 0.5 s for a busy machine.
            async with asyncio.timeout(0.5):
                await waiter
            assert await store.last_event_id() > seen


async def test_idle_waiting_on_sqlite_reads_no_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SQLIssueStore(f"sqlite:///{tmp_path / 'issues.db'}")
    try:
        await store.create(_new())
        seen = await store.last_event_id()
        with pytest.raises(TimeoutError):  # opens the watching connection
            async with asyncio.timeout(0.1):
                await store.wait_for_events(seen)
        on_engine: list[str] = []
        event.listen(
            store.engine.sync_engine,
            "before_cursor_execute",
            lambda _conn, _cursor, statement, *_: on_engine.append(statement),
        )
        watching: list[str] = []
        await store._watch._version.set_trace_callback(watching.append)
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.4):
                await asyncio.gather(*(store.wait_for_events(seen) for _ in range(20)))
        assert on_engine == []
        assert watching
        assert set(watching) == {"PRAGMA data_version"}
        assert len(watching) <= 12  # one every ~50 ms for all twenty waiters
    finally:
        await store.aclose()


async def _listener_pid(url: str, schema: str, other_than: int | None = None) -> int:
    """The backend of the store's listening connection, once it LISTENs."""
    engine = create_async_engine(url)
    try:
        async with asyncio.timeout(5):
            while True:
                async with engine.connect() as conn:
                    rows = (
                        await conn.execute(
                            text(
                                "SELECT pid, query FROM pg_stat_activity "
                                "WHERE application_name = :name"
                            ),
                            {"name": listener_name(schema)},
                        )
                    ).all()
                for pid, query in rows:
                    if pid != other_than and query.startswith("LISTEN"):
                        return int(pid)
                await asyncio.sleep(0.05)
    finally:
        await engine.dispose()


async def _terminate(url: str, pid: int) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        await engine.dispose()


async def _read_until_new(store: SQLIssueStore, after: int) -> list[Any]:
    """A live reader: wait, read the log, until something is there."""
    while True:
        await store.wait_for_events(after)
        events = list(await store.list_events(EventQuery(after=after)))
        if events:
            return events


@pytest.mark.postgres
async def test_the_listener_comes_back_after_its_connection_is_killed(
    postgres_url: str, postgres_schema: str
) -> None:
    store = SQLIssueStore(postgres_url, schema=postgres_schema)
    other = SQLIssueStore(postgres_url, schema=postgres_schema)
    try:
        await store.create(_new())
        seen = await store.last_event_id()
        reader = asyncio.create_task(_read_until_new(store, seen))
        pid = await _listener_pid(postgres_url, postgres_schema)
        await _terminate(postgres_url, pid)
        await other.create(_new())
        async with asyncio.timeout(2):
            [created] = await reader
        assert created.id > seen
        # Listening again, on a new connection: the next write is notified.
        await _listener_pid(postgres_url, postgres_schema, other_than=pid)
        seen = created.id
        reader = asyncio.create_task(_read_until_new(store, seen))
        await asyncio.sleep(0.05)
        await other.create(_new())
        async with asyncio.timeout(2):
            [created] = await reader
        assert created.id > seen
    finally:
        await other.aclose()
        await store.aclose()


@pytest.mark.postgres
async def test_stores_of_other_schemas_are_not_woken(
    postgres_url: str, postgres_schema: str
) -> None:
    assert wake_channel(postgres_schema) != wake_channel(f"{postgres_schema}_2")
    assert wake_channel(None) != wake_channel(postgres_schema)
    assert len(wake_channel("s" * 63).encode()) <= 63
    store = SQLIssueStore(postgres_url, schema=postgres_schema)
    elsewhere = SQLIssueStore(postgres_url, schema=f"{postgres_schema}_2")
    try:
        await store.create(_new())
        seen = await store.last_event_id()
        with pytest.raises(TimeoutError):  # starts listening
            async with asyncio.timeout(0.1):
                await store.wait_for_events(seen)
        waiter = asyncio.create_task(store.wait_for_events(seen))
        await elsewhere.create(_new())
        await asyncio.sleep(0.3)
        assert not waiter.done()
        waiter.cancel()
    finally:
        await elsewhere.aclose()
        await store.aclose()
        engine = create_async_engine(postgres_url)
        async with engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{postgres_schema}_2" CASCADE'))
        await engine.dispose()


@pytest.mark.postgres
def test_a_store_used_from_one_event_loop_then_another_listens_in_each(postgres_url: str) -> None:
    schema = f"test_{uuid.uuid4().hex[:16]}"
    store = SQLIssueStore(postgres_url, schema=schema)
    other = SQLIssueStore(postgres_url, schema=schema)

    async def woken_by_the_other(earlier: int | None = None) -> int:
        seen = await store.last_event_id()
        with pytest.raises(TimeoutError):  # starts listening
            async with asyncio.timeout(0.1):
                await store.wait_for_events(seen)
        pid = await _listener_pid(postgres_url, schema, other_than=earlier)
        waiter = asyncio.create_task(store.wait_for_events(seen))
        await other.create(_new())
        async with asyncio.timeout(2):
            await waiter
        await store.engine.dispose()
        await other.engine.dispose()
        return pid

    asyncio.run(woken_by_the_other(asyncio.run(woken_by_the_other())))

    async def close() -> None:
        await store.aclose()
        await other.aclose()
        engine = create_async_engine(postgres_url)
        async with engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await engine.dispose()

    asyncio.run(close())


async def test_this_process_s_commits_wake_without_any_check(
    store: SQLIssueStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The wake of this process's writes comes from the commit itself, and only from a
    commit that recorded events: neither data_version nor a notification is needed."""
    wake = store._events._wake
    assert wake is not None
    monkeypatch.setattr(store._watch, "wait", lambda after: wake.wait(lambda: after, after))
    issue = await store.create(_new())
    seen = await store.last_event_id()
    waiter = asyncio.create_task(store.wait_for_events(seen))
    with pytest.raises(StaleVersion):  # rolled back: no event, no wake
        await store.update(issue.id, IssueUpdate(title="Edited"), expected_version=99)
    await store.create_label(LabelCreate(name="bug"))  # committed, but no event
    await asyncio.sleep(0.1)
    assert not waiter.done()
    await store.update(issue.id, IssueUpdate(title="Edited"))
    async with asyncio.timeout(0.5):
        await waiter


@pytest.mark.postgres
async def test_the_listener_retries_with_growing_pauses_while_the_database_is_down(
    postgres_url: str, postgres_schema: str, caplog: pytest.LogCaptureFixture
) -> None:
    database = make_url(postgres_url)
    proxy = TCPProxy(database.host or "127.0.0.1", database.port or 5432)
    await proxy.accept()
    through = database.set(host="127.0.0.1", port=proxy.port).render_as_string(False)
    store = SQLIssueStore(through, schema=postgres_schema)
    other = SQLIssueStore(postgres_url, schema=postgres_schema)
    try:
        await store.create(_new())
        seen = await store.last_event_id()
        waiter = asyncio.create_task(store.wait_for_events(seen))
        pid = await _listener_pid(postgres_url, postgres_schema)
        await proxy.refuse()
        proxy.cut()
        async with asyncio.timeout(1):  # the drop wakes readers, to read the log again
            await waiter
        caplog.clear()
        await asyncio.sleep(1.5)
        # Pauses of 0.05, 0.1, 0.2, 0.4, 0.8 s: a handful of attempts, not one per 50 ms.
        attempts = [r for r in caplog.records if "LISTEN for events" in r.getMessage()]
        assert 2 <= len(attempts) <= 7
        await proxy.accept()
        await _listener_pid(postgres_url, postgres_schema, other_than=pid)
        seen = await store.last_event_id()
        waiter = asyncio.create_task(store.wait_for_events(seen))
        await asyncio.sleep(0.05)
        await other.create(_new())
        async with asyncio.timeout(2):
            await waiter
    finally:
        await other.aclose()
        await store.aclose()
        await proxy.aclose()
