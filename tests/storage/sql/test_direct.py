"""The SQL stores' direct paths (`storage.sql._direct`) and PostgreSQL's kept counts give the same
answers as the engine, including after writes by other stores on the same database."""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import warnings
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import (
    Column,
    ForeignKey,
    Integer,
    MetaData,
    Table,
    delete,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError, SAWarning
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from fastapi_issues import IssueCreate, IssueQuery, IssueStatus, IssueUpdate, StorageError
from fastapi_issues.storage.sql import SQLIssueStore
from fastapi_issues.storage.sql._direct import _AsyncpgDirect, direct_sql, write

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


# -- each driver's runner on its own: errors, connections, counts ----------------------

_numbers = Table("numbers", MetaData(), Column("n", Integer, primary_key=True))
_BACKEND = select(func.pg_backend_pid())


def _runner(engine: AsyncEngine) -> Any:
    runner = direct_sql(engine, lambda connection: None)
    assert runner is not None
    return runner


@pytest.fixture
async def sqlite_engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'direct.db'}")
    async with engine.begin() as conn:
        await conn.run_sync(_numbers.metadata.create_all)
    yield engine
    await engine.dispose()


async def test_sqlite_errors_on_read_and_write_are_storage_errors(
    sqlite_engine: AsyncEngine,
) -> None:
    runner = _runner(sqlite_engine)
    try:
        assert await write(runner, insert(_numbers), {"n": 1}) == 1
        with pytest.raises(StorageError, match="UNIQUE"):
            await write(runner, insert(_numbers), {"n": 1})
        missing = Table("missing", MetaData(), Column("n", Integer))
        with pytest.raises(StorageError, match="no such table"):
            await runner.fetch(select(missing.c.n), {})
        # Both connections still work after their errors.
        assert await write(runner, insert(_numbers), {"n": 2}) == 1
        assert await runner.fetch(select(_numbers.c.n).order_by(_numbers.c.n), {}) == [(1,), (2,)]
    finally:
        await runner.aclose()


async def _numbers_in(runner: Any) -> list[int]:
    return [n for (n,) in await runner.fetch(select(_numbers.c.n).order_by(_numbers.c.n), {})]


async def _transactions_roll_back_and_carry_on(runner: Any) -> None:
    """A transaction is all or nothing, a refused constraint reaches the block as
    SQLAlchemy's IntegrityError (as the engine raises it), and the runner carries on."""
    async with runner.transaction() as conn:
        assert (await conn.execute(insert(_numbers), [{"n": 1}, {"n": 2}])).rowcount == 2
        changed = await conn.execute(update(_numbers).values(n=_numbers.c.n + 10), {})
        assert changed.rowcount == 2
        gone = await conn.execute(delete(_numbers).where(_numbers.c.n > 11).returning(_numbers.c.n))
        assert gone.scalars() == [12]

    async def changes_its_mind() -> None:
        async with runner.transaction() as conn:
            await conn.execute(insert(_numbers), {"n": 3})
            raise LookupError("the store changes its mind")

    async def duplicates() -> None:
        async with runner.transaction() as conn:
            await conn.execute(insert(_numbers), {"n": 4})
            await conn.execute(insert(_numbers), {"n": 11})

    with pytest.raises(LookupError):
        await changes_its_mind()
    with pytest.raises(IntegrityError):
        await duplicates()
    assert await _numbers_in(runner) == [11]
    async with runner.transaction() as conn:
        assert (await conn.execute(select(func.count()).select_from(_numbers))).scalar_one() == 1
        await conn.execute(insert(_numbers), [])  # no rows: nothing to run
    assert await write(runner, insert(_numbers), {"n": 5}) == 1
    assert await _numbers_in(runner) == [5, 11]


async def test_sqlite_transactions_roll_back_and_carry_on(sqlite_engine: AsyncEngine) -> None:
    runner = _runner(sqlite_engine)
    try:
        await _transactions_roll_back_and_carry_on(runner)
    finally:
        await runner.aclose()


async def test_sqlite_transactions_take_turns(sqlite_engine: AsyncEngine) -> None:
    """Transactions of one runner share its writer connection, one at a time: none joins
    another's, so each commits or rolls back on its own."""
    runner = _runner(sqlite_engine)

    async def one(n: int) -> None:
        async with runner.transaction() as conn:
            await conn.execute(insert(_numbers), {"n": n})
            await asyncio.sleep(0)  # let the others try to start meanwhile
            if n % 3 == 0:
                raise LookupError(n)

    try:
        outcomes = await asyncio.gather(*(one(n) for n in range(1, 31)), return_exceptions=True)
        assert sum(isinstance(outcome, LookupError) for outcome in outcomes) == 10
        assert await _numbers_in(runner) == [n for n in range(1, 31) if n % 3]
    finally:
        await runner.aclose()


async def test_sqlite_transactions_waiting_together_commit_together_or_fail_together(
    tmp_path: Path,
) -> None:
    """Those waiting their turn join one commit (group commit): a commit that fails, here on
    a foreign key checked only then, fails every transaction in it and keeps none."""
    metadata = MetaData()
    parents = Table("parents", metadata, Column("id", Integer, primary_key=True))
    children = Table(
        "children",
        metadata,
        Column("id", Integer, primary_key=True),
        Column(
            "parent_id",
            Integer,
            ForeignKey("parents.id", deferrable=True, initially="DEFERRED"),
            nullable=True,
        ),
    )
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'group.db'}")
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    runner = direct_sql(engine, lambda connection: connection.execute("PRAGMA foreign_keys = ON"))
    assert runner is not None

    async def add(child: int, parent: int | None) -> None:
        async with runner.transaction() as conn:
            await conn.execute(insert(children), {"id": child, "parent_id": parent})

    try:
        outcomes = await asyncio.gather(
            add(1, None), add(2, 99), add(3, None), return_exceptions=True
        )
        assert all(isinstance(outcome, StorageError) for outcome in outcomes), outcomes
        assert "FOREIGN KEY" in str(outcomes[0])
        assert await runner.fetch(select(children.c.id), {}) == []
        await asyncio.gather(*(add(n, None) for n in range(10, 20)))
        assert len(await runner.fetch(select(children.c.id), {})) == 10
        assert await runner.fetch(select(parents.c.id), {}) == []
    finally:
        await runner.aclose()
        await engine.dispose()


def _open_files(path: Path) -> list[str]:
    folder = Path("/proc/self/fd")
    found = []
    for fd in folder.iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith(str(path)):
                found.append(target)
    return found


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc to see open files")
async def test_sqlite_aclose_closes_both_connections_and_the_write_thread(
    sqlite_engine: AsyncEngine, tmp_path: Path
) -> None:
    await sqlite_engine.dispose()  # only the runner's own connections stay open
    before = set(threading.enumerate())
    runner = _runner(sqlite_engine)
    assert await write(runner, insert(_numbers), {"n": 1}) == 1
    assert await runner.fetch(select(_numbers.c.n), {}) == [(1,)]
    database = tmp_path / "direct.db"
    assert len(_open_files(database)) >= 2  # a reader and a writer
    threads = [t for t in set(threading.enumerate()) - before if t.name.startswith("fastapi")]
    assert threads
    await runner.aclose()
    assert _open_files(database) == []
    for thread in threads:
        thread.join(timeout=5)
        assert not thread.is_alive()


@pytest.fixture
async def postgres_engine(postgres_url: str, postgres_schema: str) -> AsyncIterator[AsyncEngine]:
    """An engine of one pooled connection, waiting 2 s at most for it: a connection that is
    neither given back nor given up shows as a timeout."""
    engine = create_async_engine(postgres_url, pool_size=1, max_overflow=0, pool_timeout=2)
    async with engine.begin() as conn:
        await conn.exec_driver_sql(f'CREATE SCHEMA "{postgres_schema}"')
    engine = engine.execution_options(schema_translate_map={None: postgres_schema})
    async with engine.begin() as conn:
        await conn.run_sync(_numbers.metadata.create_all)
    yield engine
    await engine.dispose()


@pytest.mark.postgres
async def test_a_postgres_statement_error_gives_the_connection_back(
    postgres_engine: AsyncEngine,
) -> None:
    runner = _runner(postgres_engine)
    try:
        backend = await runner.fetch(_BACKEND, {})
        with pytest.raises(StorageError, match="division by zero"):
            await runner.fetch(text("SELECT 1 / 0"), {})
        assert await write(runner, insert(_numbers), {"n": 1}) == 1
        with pytest.raises(StorageError, match="duplicate key"):
            await write(runner, insert(_numbers), {"n": 1})
        assert await runner.fetch(_BACKEND, {}) == backend
    finally:
        await runner.aclose()


@pytest.mark.postgres
async def test_postgres_transactions_roll_back_and_carry_on(
    postgres_engine: AsyncEngine,
) -> None:
    runner = _runner(postgres_engine)
    try:
        backend = await runner.fetch(_BACKEND, {})
        await _transactions_roll_back_and_carry_on(runner)
        assert await runner.fetch(_BACKEND, {}) == backend  # one connection, given back
    finally:
        await runner.aclose()


@pytest.mark.postgres
async def test_a_cancelled_postgres_transaction_gives_its_connection_up_uncommitted(
    postgres_engine: AsyncEngine, postgres_url: str
) -> None:
    runner = _runner(postgres_engine)

    async def slow() -> None:
        async with runner.transaction() as conn:
            await conn.execute(insert(_numbers), {"n": 1})
            await conn.execute(select(func.pg_sleep(30)), {})

    try:
        [(backend,)] = await runner.fetch(_BACKEND, {})
        sleeping = asyncio.ensure_future(slow())
        await asyncio.sleep(0.3)
        sleeping.cancel()
        with pytest.raises(asyncio.CancelledError):
            await sleeping
        assert postgres_engine.pool.checkedout() == 0
        assert await _numbers_in(runner) == []
        [(replacement,)] = await runner.fetch(_BACKEND, {})
        assert replacement != backend
    finally:
        await runner.aclose()
        # The server goes on sleeping, holding the insert's lock, until it is told to stop.
        await _terminate(postgres_url, backend)


async def _terminate(postgres_url: str, backend: int) -> None:
    admin = create_async_engine(postgres_url, poolclass=NullPool)
    async with admin.connect() as conn:
        await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
    await admin.dispose()


@pytest.mark.postgres
async def test_a_postgres_connection_broken_mid_statement_is_given_up_not_reused(
    postgres_engine: AsyncEngine, postgres_url: str
) -> None:
    runner = _runner(postgres_engine)
    try:
        [(backend,)] = await runner.fetch(_BACKEND, {})
        sleeping = asyncio.ensure_future(runner.fetch(select(func.pg_sleep(30)), {}))
        await asyncio.sleep(0.3)
        await _terminate(postgres_url, backend)
        with pytest.raises(StorageError) as failed:
            await sleeping
        # The pool's one connection was given up (not left for when the failed call's
        # frames, kept here, are collected): a new one replaces it.
        [(replacement,)] = await runner.fetch(_BACKEND, {})
        assert replacement != backend
        assert failed.value.__cause__ is not None
    finally:
        await runner.aclose()


@pytest.mark.postgres
async def test_a_postgres_connection_that_broke_while_kept_is_dropped_unused(
    postgres_engine: AsyncEngine, postgres_url: str
) -> None:
    runner = _runner(postgres_engine)
    try:
        [(backend,)] = await runner.fetch(_BACKEND, {})
        await _terminate(postgres_url, backend)
        await asyncio.sleep(0.5)  # for the driver to see the connection go
        # The dead connection is not tried (which would fail this statement, as it failed
        # one request per dead connection after a database restart): a new one serves it.
        [(replacement,)] = await runner.fetch(_BACKEND, {})
        assert replacement != backend
        assert postgres_engine.pool.checkedout() == 1  # the new one, kept
    finally:
        await runner.aclose()


@pytest.mark.postgres
async def test_a_cancelled_postgres_statement_gives_its_connection_up(
    postgres_engine: AsyncEngine,
) -> None:
    runner = _runner(postgres_engine)
    try:
        [(backend,)] = await runner.fetch(_BACKEND, {})
        sleeping = asyncio.ensure_future(runner.fetch(select(func.pg_sleep(30)), {}))
        await asyncio.sleep(0.3)
        sleeping.cancel()
        with pytest.raises(asyncio.CancelledError) as cancelled:
            await sleeping
        # Its state unknown, the connection is given up at once, not reused: the pool's only
        # slot is free again while the cancelled call's frames are still about.
        assert postgres_engine.pool.checkedout() == 0
        [(replacement,)] = await runner.fetch(_BACKEND, {})
        assert replacement != backend
        assert cancelled.value is not None
    finally:
        await runner.aclose()


@pytest.mark.postgres
async def test_postgres_keeps_a_few_idle_connections_and_aclose_gives_them_back(
    postgres_url: str,
) -> None:
    engine = create_async_engine(postgres_url, pool_size=8, max_overflow=0, pool_timeout=5)
    runner = _runner(engine)
    try:
        slow = select(func.pg_backend_pid(), func.pg_sleep(0.2))
        busy = await asyncio.gather(*(runner.fetch(slow, {}) for _ in range(8)))
        assert len({rows[0][0] for rows in busy}) == 8  # eight at once, eight connections
        assert engine.pool.checkedout() == _AsyncpgDirect._KEEP  # the rest went back
        # The kept ones serve the next statements: no other connection is taken.
        kept = {(await runner.fetch(_BACKEND, {}))[0][0] for _ in range(_AsyncpgDirect._KEEP)}
        assert kept <= {rows[0][0] for rows in busy}
        assert engine.pool.checkedout() == _AsyncpgDirect._KEEP
        with warnings.catch_warnings(record=True) as warned:
            warnings.simplefilter("always")
            await runner.aclose()
        # All eight are back in the pool, given back rather than left to the garbage
        # collector (which SQLAlchemy warns about).
        assert engine.pool.checkedout() == 0
        assert engine.pool.checkedin() == 8
        assert [w.message for w in warned if issubclass(w.category, SAWarning)] == []
    finally:
        await runner.aclose()
        await engine.dispose()


@pytest.mark.postgres
async def test_a_postgres_statement_waiting_for_a_connection_is_served_in_turn(
    postgres_url: str,
) -> None:
    # Eight callers on two connections, each asking again as soon as it is served: one that
    # found both busy must not wait for all the others to finish (kept connections handed to
    # whoever asked last starved it until then).
    engine = create_async_engine(postgres_url, pool_size=2, max_overflow=0, pool_timeout=30)
    runner = _runner(engine)
    served = 0
    busy = asyncio.Event()

    async def keep_asking() -> None:
        nonlocal served
        for _ in range(100):
            await runner.fetch(_BACKEND, {})
            served += 1
            if served == 50:
                busy.set()

    try:
        callers = [asyncio.create_task(keep_asking()) for _ in range(8)]
        await busy.wait()
        asked_at = served
        await runner.fetch(_BACKEND, {})
        waited_for = served - asked_at
        await asyncio.gather(*callers)
        assert served == 800
        assert waited_for < 50, f"served after {waited_for} statements of callers behind it"
    finally:
        await runner.aclose()
        await engine.dispose()


@pytest.mark.postgres
async def test_a_postgres_write_returns_the_rows_it_touched(
    postgres_engine: AsyncEngine, postgres_schema: str
) -> None:
    runner = _runner(postgres_engine)
    try:
        for n in (1, 2, 3):
            assert await write(runner, insert(_numbers), {"n": n}) == 1  # "INSERT 0 1"
        assert await write(runner, update(_numbers).values(n=_numbers.c.n + 10), {}) == 3
        assert await write(runner, delete(_numbers).where(_numbers.c.n > 12), {}) == 1
        assert await write(runner, delete(_numbers).where(_numbers.c.n > 99), {}) == 0
        # A status without a count ("CREATE TABLE") touched no rows.
        assert await write(runner, text(f'CREATE TABLE "{postgres_schema}".other (n int)'), {}) == 0
    finally:
        await runner.aclose()


async def test_a_sqlite_uri_url_reaches_the_file_it_names(tmp_path: Path) -> None:
    """`?uri=true` makes the direct runner open the path as a SQLite URI, as the engine does:
    a write through one store is read through a store on the plain path."""
    from fastapi_issues import IssueCreate
    from fastapi_issues.storage.sql import SQLIssueStore

    path = tmp_path / "issues.db"
    by_uri = SQLIssueStore(f"sqlite:///file:{path}?mode=rwc&uri=true")
    await by_uri.create_schema()
    created = await by_uri.create(IssueCreate(title="Via a URI", description="Opened as file:"))
    await by_uri.aclose()
    by_path = SQLIssueStore(f"sqlite:///{path}")
    try:
        assert (await by_path.get(created.id)).title == "Via a URI"
    finally:
        await by_path.aclose()
