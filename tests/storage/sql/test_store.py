"""The SQL store on SQLite and PostgreSQL: the contract suite, and what only SQL stores do."""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
import threading
import traceback
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import event, select, update
from sqlalchemy.engine.default import CACHE_HIT
from sqlalchemy.ext.asyncio import create_async_engine

from fastapi_issues import (
    CommentOut,
    IssueCreate,
    IssueOut,
    IssueQuery,
    StorageError,
    make_issue_router,
)
from fastapi_issues.storage.sql import SQLIssueStore
from fastapi_issues.storage.sql._database import POSTGRES_POOL_SIZE, SQLITE_BUSY_TIMEOUT_MS
from fastapi_issues.storage.sql._errors import database_error
from fastapi_issues.storage.sql._issues import COUNTS_KEPT
from fastapi_issues.storage.sql._schema import SCHEMA_VERSION, meta
from fastapi_issues.testing import EventStoreContract, TrackerStoreContract


class TestSQLiteIssueStore(TrackerStoreContract, EventStoreContract):
    @pytest.fixture
    async def store(self, tmp_path: Path) -> AsyncIterator[SQLIssueStore]:
        store = SQLIssueStore(f"sqlite:///{tmp_path / 'issues.db'}")
        await store.create_schema()
        yield store
        await store.aclose()


class TestSQLiteIssueStoreTwoConnections(TrackerStoreContract, EventStoreContract):
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
            create_label = writer.create_label
            update_label = writer.update_label
            delete_label = writer.delete_label
            set_issue_labels = writer.set_issue_labels
            add_issue_labels = writer.add_issue_labels
            remove_issue_labels = writer.remove_issue_labels
            get_label = reader.get_label
            list_labels = reader.list_labels
            create_comment = writer.create_comment
            update_comment = writer.update_comment
            delete_comment = writer.delete_comment
            import_issues = writer.import_issues
            get_comment = reader.get_comment
            list_comments = reader.list_comments
            list_events = reader.list_events
            wait_for_events = reader.wait_for_events
            issue_events = reader.issue_events
            last_event_id = reader.last_event_id
            prune_events = writer.prune_events

        yield SplitStore()
        await writer.aclose()
        await reader.aclose()


class TestPostgresIssueStore(TrackerStoreContract, EventStoreContract):
    @pytest.fixture
    async def store(self, postgres_url: str, postgres_schema: str) -> AsyncIterator[SQLIssueStore]:
        store = SQLIssueStore(postgres_url, schema=postgres_schema)
        await store.create_schema()
        yield store
        await store.aclose()


def sqlite_url(tmp_path: Path, name: str = "issues.db") -> str:
    return f"sqlite:///{tmp_path / name}"


def _new(title: str = "An issue") -> IssueCreate:
    return IssueCreate(title=title, description="Something broke")


@pytest.fixture
def sql_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A SQLite file, or a PostgreSQL schema of this test's own when the param says so."""
    if request.param == "sqlite":
        return sqlite_url(tmp_path)
    postgres_url = request.getfixturevalue("postgres_url")
    schema = request.getfixturevalue("postgres_schema")
    return f"{postgres_url}#{schema}"


def open_store(url: str) -> SQLIssueStore:
    if "#" in url:
        url, schema = url.split("#")
        return SQLIssueStore(url, schema=schema)
    return SQLIssueStore(url)


both_databases = pytest.mark.parametrize(
    "sql_url",
    [
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
    ],
    indirect=True,
)

pytestmark = pytest.mark.anyio


@both_databases
async def test_tables_are_created_on_first_use(sql_url: str) -> None:
    store = open_store(sql_url)
    try:
        issue = await store.create(_new())
        assert await store.get(issue.id) == issue
    finally:
        await store.aclose()


@both_databases
async def test_schema_version_is_recorded_and_creation_is_idempotent(sql_url: str) -> None:
    stores = [open_store(sql_url) for _ in range(4)]
    try:
        # As when several app processes start at once: they take turns, none fails.
        await asyncio.gather(*(store.create_schema() for store in stores))
        await stores[0].create_schema()
        async with stores[0].engine.connect() as conn:
            rows = (await conn.execute(select(meta.c.key, meta.c.value))).all()
        assert sorted(tuple(row) for row in rows) == [
            ("schema_version", str(SCHEMA_VERSION)),
            ("table:comments", "created"),
            ("table:issue_assignees", "created"),
            ("table:issue_labels", "created"),
            ("table:issues", "created"),
            ("table:labels", "created"),
        ]
    finally:
        for store in stores:
            await store.aclose()


@both_databases
async def test_a_newer_schema_version_is_refused(sql_url: str) -> None:
    store = open_store(sql_url)
    await store.create_schema()
    async with store.engine.begin() as conn:
        await conn.execute(update(meta).values(value=str(SCHEMA_VERSION + 1)))
    await store.aclose()
    newer = open_store(sql_url)
    try:
        with pytest.raises(StorageError, match="upgrade fastapi-issues"):
            await newer.create_schema()
        with pytest.raises(StorageError):
            await newer.list(IssueQuery())
    finally:
        await newer.aclose()


async def test_tables_of_another_application_are_not_adopted(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "issues.db") as conn:
        conn.execute("CREATE TABLE issues (id INTEGER PRIMARY KEY, summary TEXT)")
    for _ in range(2):  # the refusal is not forgotten by the second try
        store = SQLIssueStore(sqlite_url(tmp_path))
        try:
            with pytest.raises(StorageError, match="table issues exists but was not made"):
                await store.create_schema()
        finally:
            await store.aclose()


async def test_other_tables_of_the_host_app_do_not_matter(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "issues.db") as conn:
        conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, login TEXT)")
    store = SQLIssueStore(sqlite_url(tmp_path))
    try:
        issue = await store.create(_new())
        assert await store.get(issue.id) == issue
    finally:
        await store.aclose()


async def test_many_processes_starting_on_a_new_sqlite_file_all_succeed(tmp_path: Path) -> None:
    # Switching a new file to WAL from several connections at once makes SQLite answer
    # "locked" without waiting; 8 stores per round failed about one round in 25 before.
    for round_number in range(20):
        url = sqlite_url(tmp_path / str(round_number))
        stores = [SQLIssueStore(url) for _ in range(8)]
        try:
            await asyncio.gather(*(store.create_schema() for store in stores))
            async with stores[0].engine.connect() as conn:
                journal = (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar()
            assert journal == "wal"
        finally:
            for store in stores:
                await store.aclose()


async def test_sqlite_runs_in_wal_mode_with_a_busy_timeout_and_full_sync(
    tmp_path: Path,
) -> None:
    store = SQLIssueStore(sqlite_url(tmp_path))
    try:
        await store.create_schema()
        async with store.engine.connect() as conn:
            journal = (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar()
            timeout = (await conn.exec_driver_sql("PRAGMA busy_timeout")).scalar()
            synchronous = (await conn.exec_driver_sql("PRAGMA synchronous")).scalar()
        assert journal == "wal"
        assert timeout == SQLITE_BUSY_TIMEOUT_MS
        assert synchronous == 2  # FULL
    finally:
        await store.aclose()


async def test_sqlite_keeps_times_as_integer_microseconds(tmp_path: Path) -> None:
    store = SQLIssueStore(sqlite_url(tmp_path))
    issue = await store.create(_new())
    await store.aclose()
    with sqlite3.connect(tmp_path / "issues.db") as conn:
        created, updated = conn.execute("SELECT created_at, updated_at FROM issues").fetchone()
    expected = (issue.created_at - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    assert created == updated == expected
    reopened = SQLIssueStore(sqlite_url(tmp_path))
    try:
        again = await reopened.get(issue.id)
        assert again == issue
        assert again.created_at.microsecond == issue.created_at.microsecond
        assert again.created_at.tzinfo is not None
    finally:
        await reopened.aclose()


@both_databases
async def test_times_in_other_zones_and_naive_times_filter_correctly(sql_url: str) -> None:
    store = open_store(sql_url)
    try:
        issue = await store.create(_new())
        in_paris = issue.created_at.astimezone(timezone(timedelta(hours=2)))
        naive_utc = issue.created_at.replace(tzinfo=None)
        for since in (in_paris, naive_utc):
            assert (await store.list(IssueQuery(created_since=since))).total == 1
            later = since + timedelta(microseconds=1)
            assert (await store.list(IssueQuery(created_since=later))).total == 0
    finally:
        await store.aclose()


async def test_an_unreachable_database_raises_storage_error() -> None:
    store = SQLIssueStore("postgresql+asyncpg://postgres@127.0.0.1:1/test")
    try:
        with pytest.raises(StorageError):
            await store.get("anything")
        with pytest.raises(StorageError):
            await store.create(_new())
        with pytest.raises(StorageError):
            await store.create_schema()
    finally:
        await store.aclose()


async def test_a_missing_folder_is_created(tmp_path: Path) -> None:
    store = SQLIssueStore(sqlite_url(tmp_path / "data"))
    try:
        await store.create(_new())
        assert (tmp_path / "data" / "issues.db").is_file()
    finally:
        await store.aclose()


async def test_an_unusable_sqlite_path_raises_storage_error(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    store = SQLIssueStore(sqlite_url(tmp_path / "a-file"))
    try:
        with pytest.raises(StorageError, match="unable to open database file"):
            await store.list(IssueQuery())
    finally:
        await store.aclose()
        # aiosqlite stops the thread of a connection that failed to open on its own
        # schedule; let it finish while this test's event loop still runs.
        for _ in range(100):
            names = [thread.name for thread in threading.enumerate()]
            if not any(name.endswith("(_connection_worker_thread)") for name in names):
                break
            await asyncio.sleep(0.01)


def test_in_memory_sqlite_is_refused() -> None:
    with pytest.raises(ValueError, match="in-memory"):
        SQLIssueStore("sqlite://")
    with pytest.raises(ValueError, match="in-memory"):
        SQLIssueStore("sqlite+aiosqlite:///:memory:")


async def test_an_engine_passed_in_stays_the_callers(tmp_path: Path) -> None:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'issues.db'}")
    try:
        store = SQLIssueStore(engine)
        assert store.engine is engine
        issue = await store.create(_new())
        await store.aclose()
        # Still usable, and set up for the stores (WAL, the text filter's function).
        again = SQLIssueStore(engine)
        assert await again.get(issue.id) == issue
        async with engine.connect() as conn:
            journal = (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar()
            found = await conn.exec_driver_sql("SELECT fastapi_issues_contains('éa', 'xÉAy', '')")
        assert journal == "wal"
        assert found.scalar() == 1
    finally:
        await engine.dispose()


async def test_lifespan_creates_the_schema_and_closes_the_connections(tmp_path: Path) -> None:
    store = SQLIssueStore(sqlite_url(tmp_path))
    app = FastAPI(lifespan=store.lifespan)
    async with app.router.lifespan_context(app):
        with sqlite3.connect(tmp_path / "issues.db") as conn:
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        assert {"issues", "fastapi_issues_meta"} <= tables
        assert store.engine.pool.checkedin() == 1  # type: ignore[attr-defined]
    assert store.engine.pool.checkedin() == 0  # type: ignore[attr-defined]


async def test_the_router_serves_from_sql_with_etags(tmp_path: Path) -> None:
    store = SQLIssueStore(sqlite_url(tmp_path))
    app = FastAPI()
    app.include_router(make_issue_router(store))
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            body = {"title": "Crash on save", "description": "Every time", "priority": "high"}
            created = await client.post("/api/v1/issues", json=body)
            assert created.status_code == 201
            location = created.headers["Location"]
            patched = await client.patch(
                location, json={"status": "closed"}, headers={"If-Match": '"v1"'}
            )
            assert patched.status_code == 200
            assert patched.headers["ETag"] == '"v2"'
            stale = await client.patch(
                location, json={"title": "Again"}, headers={"If-Match": '"v1"'}
            )
            assert stale.status_code == 412
            listed = await client.get("/api/v1/issues", params={"status": "closed", "q": "SAVE"})
            assert listed.headers["X-Total-Count"] == "1"
            assert listed.json()[0]["version"] == 2
    finally:
        await store.aclose()


@pytest.mark.postgres
async def test_postgres_bursts_reuse_a_fixed_set_of_connections(
    postgres_url: str, postgres_schema: str
) -> None:
    store = SQLIssueStore(postgres_url, schema=postgres_schema)
    opened = 0

    def count(*_: object) -> None:
        nonlocal opened
        opened += 1

    event.listen(store.engine.sync_engine, "connect", count)
    try:
        issue = await store.create(_new())
        for _ in range(3):
            # Far more requests at once than connections: they queue, nothing is opened
            # and closed per request (as overflow connections were).
            results = await asyncio.gather(*(store.get(issue.id) for _ in range(64)))
            assert {result.id for result in results} == {issue.id}
        assert 1 <= opened <= POSTGRES_POOL_SIZE
    finally:
        await store.aclose()


# -- list: page edges and PostgreSQL's kept counts -------------------------------------


@both_databases
async def test_totals_at_the_edges_of_the_pages(sql_url: str) -> None:
    store = open_store(sql_url)
    try:
        for n in range(5):
            await store.create(_new(f"Issue {n}"))
        for offset, limit, titles in [
            (0, 0, []),  # no rows asked for: the total still counts
            (3, 2, ["Issue 3", "Issue 4"]),  # a full last page
            (4, 3, ["Issue 4"]),  # a short last page
            (5, 2, []),  # just past the end
            (9, 2, []),  # far past it
        ]:
            page = await store.list(IssueQuery(offset=offset, limit=limit))
            assert [issue.title for issue in page.items] == titles, (offset, limit)
            assert page.total == 5, (offset, limit)
        # Past the end of one match: it still counts (an empty page is no total of 0).
        one = await store.list(IssueQuery(text="Issue 4", offset=1))
        assert (list(one.items), one.total) == ([], 1)
        nobody = IssueQuery(reporter="nobody", limit=0)
        assert (await store.list(nobody)).total == 0
        assert (await store.list(IssueQuery(reporter="nobody", offset=2))).total == 0
    finally:
        await store.aclose()


class _CountedFetches:
    """Counts the statements a store reads with, to see when it counts again."""

    def __init__(self, store: SQLIssueStore, monkeypatch: pytest.MonkeyPatch) -> None:
        self.reads = 0
        fetch = store._db.fetch

        async def counted(statement: Any, params: Any) -> Any:
            self.reads += 1
            return await fetch(statement, params)

        monkeypatch.setattr(store._db, "fetch", counted)

    def take(self) -> int:
        reads, self.reads = self.reads, 0
        return reads


@pytest.mark.postgres
async def test_postgres_counts_are_kept_per_filter_values(
    postgres_url: str, postgres_schema: str
) -> None:
    store = SQLIssueStore(postgres_url, schema=postgres_schema)
    try:
        for n in range(5):
            await store.create(_new(f"Issue {n}"), reporter="ann" if n < 3 else "bob")
        # Same shape, other values, often the same snapshot: each its own total.
        for _ in range(5):
            assert (await store.list(IssueQuery(reporter="ann", limit=1))).total == 3
            assert (await store.list(IssueQuery(reporter="bob", limit=1))).total == 2
            assert (await store.list(IssueQuery(limit=1))).total == 5
    finally:
        await store.aclose()


@pytest.mark.postgres
async def test_postgres_reuses_a_count_only_in_the_snapshot_it_was_taken_in(
    postgres_url: str, postgres_schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SQLIssueStore(postgres_url, schema=postgres_schema)
    writer = SQLIssueStore(postgres_url, schema=postgres_schema)
    try:
        for n in range(3):
            await writer.create(_new(f"Issue {n}"))
        reads = _CountedFetches(store, monkeypatch)
        full_page = IssueQuery(limit=2)
        assert (await store.list(full_page)).total == 3
        assert reads.take() == 2  # the page, then its count
        # Any write anywhere in the cluster starts another snapshot (other tests may run on
        # this server): with nothing written between two lists, the count is reused.
        for _ in range(20):
            assert (await store.list(full_page)).total == 3
            if reads.take() == 1:
                break
        else:
            pytest.fail("the count was never reused")
        await writer.create(_new("Issue 3"))
        assert (await store.list(full_page)).total == 4
        assert reads.take() == 2  # another snapshot: counted again
        # Without rows there is no snapshot to compare: always counted.
        for _ in range(2):
            assert (await store.list(IssueQuery(limit=0))).total == 4
            assert reads.take() == 1
    finally:
        await store.aclose()
        await writer.aclose()


@pytest.mark.postgres
async def test_postgres_keeps_a_bounded_number_of_counts_dropping_the_oldest(
    postgres_url: str, postgres_schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SQLIssueStore(postgres_url, schema=postgres_schema)
    try:
        for n in range(2):
            await store.create(_new(f"Issue {n}"))
        reads = _CountedFetches(store, monkeypatch)
        start = datetime(2000, 1, 1, tzinfo=UTC)
        for attempt in range(10):
            since = start + timedelta(seconds=attempt)
            queries = [
                IssueQuery(created_since=since + timedelta(microseconds=n), limit=1)
                for n in range(COUNTS_KEPT + 1)
            ]
            for query in queries:
                assert (await store.list(query)).total == 2
            reads.take()
            taken = []
            for query in (queries[-1], queries[0], queries[-1]):
                assert (await store.list(query)).total == 2
                taken.append(reads.take())
            if taken[0] == taken[2] == 1:  # one snapshot throughout: the newest was reused
                assert taken[1] == 2  # and the oldest had gone to make room
                break
        else:
            pytest.fail("no snapshot held still long enough")
    finally:
        await store.aclose()


# -- secrets never reach the logs ------------------------------------------------------------
# Issue 16, finding 7: SQLAlchemy's exception text ends with `[parameters: ...]`, and the
# stores put that text into their `StorageError`, which the routes log: a failing insert of
# a user logged the user's argon2 hash.

SECRET_PASSWORD = "correct horse battery staple"
SECRET_HASH = "$argon2id$v=19$m=65536,t=3,p=4$c2VjcmV0LXNhbHQ$secret-hash-never-logged"


def assert_no_secrets(*texts: str) -> None:
    for shown in texts:
        assert SECRET_PASSWORD not in shown
        assert "$argon2" not in shown
        assert "secret-hash-never-logged" not in shown


async def _refuse_user_inserts(store: Any, sql_url: str) -> None:
    # The forced failure: a trigger makes the insert itself fail, with the hash among its
    # parameters, after the store's own checks passed.
    await store.create_schema()
    async with store.engine.begin() as conn:
        if "#" not in sql_url:
            # Not RAISE(): SQLite reports that as a constraint, which reads as a name taken.
            await conn.exec_driver_sql(
                "CREATE TRIGGER refuse_users BEFORE INSERT ON users "
                "BEGIN SELECT refused_by_the_test(); END"
            )
            return
        schema = sql_url.split("#")[1]
        await conn.exec_driver_sql(
            f"CREATE FUNCTION {schema}.refuse() RETURNS trigger LANGUAGE plpgsql "
            "AS $$BEGIN RAISE EXCEPTION 'refused by the test'; END$$"
        )
        await conn.exec_driver_sql(
            f"CREATE TRIGGER refuse_users BEFORE INSERT ON {schema}.users "
            f"FOR EACH ROW EXECUTE FUNCTION {schema}.refuse()"
        )


def _user_store(url: str) -> Any:
    from fastapi_issues.auth import SQLUserStore

    if "#" in url:
        url, schema = url.split("#")
        return SQLUserStore(url, schema=schema)
    return SQLUserStore(url)


@both_databases
async def test_a_failing_user_write_keeps_the_hash_out_of_the_error(sql_url: str) -> None:
    from fastapi_issues.auth import UserInDB

    store = _user_store(sql_url)
    try:
        await _refuse_user_inserts(store, sql_url)
        user = UserInDB(username="grace", hashed_password=SecretStr(SECRET_HASH))
        with pytest.raises(StorageError) as caught:
            await store.create(user)
    finally:
        await store.aclose()
    message = str(caught.value)
    # The driver's error and the kind of statement stay: what is needed to debug it.
    assert message.startswith("database error: ")
    assert re.search(r"refused.by.the.test", message)
    assert re.search(r"\(in INSERT INTO (\w+\.)?users\)$", message), message
    assert "[parameters" not in message
    # The driver's own error is chained, for debugging; SQLAlchemy's (with the
    # parameters) is not, nor shown as the context, in any traceback printed of it.
    assert caught.value.__cause__ is not None
    assert caught.value.__suppress_context__
    assert_no_secrets(
        message, repr(caught.value), "".join(traceback.format_exception(caught.value))
    )


@both_databases
async def test_a_failing_registration_logs_neither_the_password_nor_its_hash(
    sql_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    from fastapi import FastAPI

    from fastapi_issues.auth import AuthSettings, make_auth_router

    store = _user_store(sql_url)
    app = FastAPI()
    app.include_router(
        make_auth_router(store, AuthSettings(secret_key="k" * 32), registration=True)
    )
    try:
        await _refuse_user_inserts(store, sql_url)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            with caplog.at_level(logging.DEBUG):
                response = await client.post(
                    "/register", json={"username": "grace", "password": SECRET_PASSWORD}
                )
    finally:
        await store.aclose()
    assert response.status_code == 503
    assert response.json() == {"detail": "User store unavailable"}
    assert "user store failed: database error: " in caplog.text
    assert_no_secrets(response.text, caplog.text)
    for record in caplog.records:
        if record.exc_info:
            assert_no_secrets("".join(traceback.format_exception(*record.exc_info)))


@pytest.mark.postgres
async def test_postgres_nul_in_a_stored_user_keeps_the_hash_out_of_the_error(
    postgres_url: str, postgres_schema: str
) -> None:
    # The finding as reported: a NUL PostgreSQL cannot store, past the routes' checks.
    from fastapi_issues.auth import UserInDB

    store = _user_store(f"{postgres_url}#{postgres_schema}")
    user = UserInDB(username="grace", full_name="Grace\x00", hashed_password=SecretStr(SECRET_HASH))
    try:
        with pytest.raises(StorageError) as caught:
            await store.create(user)
    finally:
        await store.aclose()
    assert "0x00" in str(caught.value)
    assert_no_secrets(str(caught.value))


def test_database_errors_name_the_driver_error_and_statement_kind_only() -> None:
    from sqlalchemy.exc import IntegrityError

    failed = IntegrityError(
        "INSERT INTO users (username, hashed_password) VALUES ($1, $2)",
        {"username": "grace", "hashed_password": SECRET_HASH},
        Exception('duplicate key value violates unique constraint "users_pkey"'),
    )
    assert SECRET_HASH in str(failed)  # what the stores used to log
    message = str(database_error(failed))
    assert message == (
        'database error: Exception: duplicate key value violates unique constraint "users_pkey" '
        "(in INSERT INTO users)"
    )
    # asyncpg shows an argument it cannot encode; PostgreSQL quotes input it cannot parse.
    encoded = Exception(f"invalid input for query argument $2: '{SECRET_HASH}' (expected int)")
    parsed = Exception(f'invalid input syntax for type uuid: "{SECRET_HASH}"')
    for driver_error in (encoded, parsed):
        assert_no_secrets(str(database_error(driver_error, "UPDATE users SET x = $2")))
    assert str(database_error(encoded)) == (
        "database error: Exception: invalid input for query argument $2"
    )


async def test_importing_batch_after_batch_compiles_each_insert_once(tmp_path: Path) -> None:
    # Rows put into the statement (`.values(rows)`) made SQLAlchemy compile it anew for
    # every batch: a third of a second per 500 issues, more than the insert itself.
    store = SQLIssueStore(f"sqlite:///{tmp_path / 'issues.db'}")
    await store.create_schema()
    compiled: list[str] = []

    def note(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        context = args[-2]
        # A cached statement is a hit; one compiled afresh is a miss, or not cacheable.
        if statement.startswith("INSERT INTO") and context.cache_hit is not CACHE_HIT:
            compiled.append(statement.split("(")[0])

    event.listen(store.engine.sync_engine, "before_cursor_execute", note)
    try:
        moment = datetime(2024, 1, 1, tzinfo=UTC)
        for batch in range(4):
            issues = [
                IssueOut(
                    id=f"00000000-0000-4000-8000-{batch:04d}{n:08d}",
                    title=f"Issue {n}",
                    description="Imported",
                    priority="low",
                    status="open",
                    created_at=moment,
                    updated_at=moment,
                )
                for n in range(600)
            ]
            comments = [
                CommentOut(
                    id=f"10000000-0000-4000-8000-{batch:04d}{n:08d}",
                    issue_id=issue.id,
                    body="Note",
                    created_at=moment,
                    updated_at=moment,
                )
                for n, issue in enumerate(issues)
            ]
            assert await store.import_issues(issues) == 600
            assert await store.import_comments(comments) == 600
    finally:
        await store.aclose()
    assert sorted(set(compiled)) == ["INSERT INTO comments ", "INSERT INTO issues "]
    assert len(compiled) <= 4  # each statement, for a full batch and for the rest
