"""The tables' revisions (Alembic): new databases, 0.1.0's databases, older and newer ones,
and processes starting together on a database that needs upgrading."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from pydantic import SecretStr
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.sql.ddl import CreateSchema

from fastapi_issues.auth.sql import SQLUserStore
from fastapi_issues.schemas import EventType, HookCreate, IssueCreate, IssueUpdate
from fastapi_issues.storage.errors import StorageError
from fastapi_issues.storage.query import EventQuery, IssueQuery
from fastapi_issues.storage.sql import VERSION_TABLE, SQLIssueStore, _migrations
from fastapi_issues.storage.sql._schema import metadata
from tests.storage.sql.release_0_1_0 import (
    extract_release,
    read_with_this_release,
    write_with_release,
)

pytestmark = pytest.mark.anyio

SHIPPED_HEAD = _migrations.script_directory().get_revision("issues@head").revision
"""The newest revision of the issues branch this release ships."""

NEXT_REVISION = "issues_test"
"""The revision id of the test revision below."""

# A later revision of the issues branch than this release ships, for databases "older than
# the code": it adds a table, says so in a file (if given one), and pauses long enough for a
# second process to come and wait on the lock, or for this one to be killed halfway.
_NEXT_REVISION_CODE = '''
"""A test revision."""
import pathlib
import time

import sqlalchemy as sa
from alembic import op

revision = "NEXT"
down_revision = "HEAD"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table("upgrade_marker", sa.Column("id", sa.Integer, primary_key=True))
    if SIGNAL:
        pathlib.Path(SIGNAL).write_text("halfway")
    time.sleep(PAUSE)
'''


def add_next_revision(folder: Path, pause: float = 0.0, signal: Path | None = None) -> str:
    """Write the test revision into `folder`; the location to add to `VERSION_LOCATIONS`."""
    folder.mkdir(exist_ok=True)
    code = (
        _NEXT_REVISION_CODE.replace("NEXT", NEXT_REVISION)
        .replace("HEAD", str(SHIPPED_HEAD))
        .replace("PAUSE", repr(pause))
        .replace("SIGNAL", repr(str(signal or "")))
    )
    (folder / f"{NEXT_REVISION}.py").write_text(code)
    return str(folder)


@pytest.fixture
def with_next_revision(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """Call to make this release know a revision of the issues branch after its own."""

    def add() -> None:
        location = add_next_revision(tmp_path / "revisions")
        monkeypatch.setattr(
            _migrations, "VERSION_LOCATIONS", (*_migrations.VERSION_LOCATIONS, location)
        )

    return add


@pytest.fixture(scope="session")
def release_src(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return extract_release(tmp_path_factory.mktemp("release-0.1.0"))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str | None]:
    """A SQLite file, or a PostgreSQL schema of this test's own: (url, schema)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'issues.db'}", None
    return request.getfixturevalue("postgres_url"), request.getfixturevalue("postgres_schema")


async def _query(url: str, schema: str | None, sql: str) -> list[tuple[object, ...]]:
    """The rows of `sql`; none for a statement that returns none (it is committed)."""
    engine = create_async_engine(url.replace("sqlite://", "sqlite+aiosqlite://"))
    try:
        async with engine.begin() as conn:
            if schema is not None:
                await conn.exec_driver_sql(f'SET search_path TO "{schema}"')
            result = await conn.execute(text(sql))
            return [tuple(row) for row in result.all()] if result.returns_rows else []
    finally:
        await engine.dispose()


async def _tables(url: str, schema: str | None) -> set[str]:
    if schema is None:
        rows = await _query(url, None, "SELECT name FROM sqlite_master WHERE type = 'table'")
    else:
        rows = await _query(
            url,
            schema,
            f"SELECT table_name FROM information_schema.tables WHERE table_schema = '{schema}'",
        )
    return {str(row[0]) for row in rows}


async def _revisions(url: str, schema: str | None) -> set[str]:
    rows = await _query(url, schema, f"SELECT version_num FROM {VERSION_TABLE}")
    return {str(row[0]) for row in rows}


async def _open_both(url: str, schema: str | None) -> tuple[SQLIssueStore, SQLUserStore]:
    # Revision users_0002 changes 0.1.0's users table: upgraded on PostgreSQL too.
    store = SQLIssueStore(url, schema=schema)
    users = SQLUserStore(url, schema=schema, auto_upgrade=True)
    await store.create_schema()
    await users.create_schema()
    return store, users


# -- revision 1 is 0.1.0's schema ---------------------------------------------------------


def _sqlite_schema(path: Path) -> set[tuple[str, ...]]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master").fetchall()
    return {
        (kind, name, table, " ".join((sql or "").split()))
        for kind, name, table, sql in rows
        if VERSION_TABLE not in table
    }


async def _upgrade_to(url: str, schema: str | None, *targets: str) -> None:
    """Bring a database to `targets` (one revision per branch) and no further, as Alembic
    does for our stores."""
    engine = create_async_engine(url.replace("sqlite://", "sqlite+aiosqlite://"))
    translated = engine.execution_options(schema_translate_map={None: schema}) if schema else engine

    def run(conn: Connection) -> None:
        if schema is not None:
            conn.execute(CreateSchema(schema, if_not_exists=True))
        config = _migrations._config(conn, schema, None)
        for target in targets:
            command.upgrade(config, target)

    try:
        async with translated.begin() as conn:
            await conn.run_sync(run)
    finally:
        await engine.dispose()


async def test_revision_1_makes_the_sqlite_schema_of_0_1_0(
    tmp_path: Path, release_src: Path
) -> None:
    write_with_release(release_src, f"sqlite:///{tmp_path / 'old.db'}")
    await _upgrade_to(f"sqlite:///{tmp_path / 'new.db'}", None, "issues_0001", "users_0001")
    assert _sqlite_schema(tmp_path / "new.db") == _sqlite_schema(tmp_path / "old.db")


_POSTGRES_SCHEMA_QUERIES = [
    "SELECT table_name, column_name, data_type, is_nullable, collation_name, "
    "replace(column_default, '{schema}.', '') FROM information_schema.columns "
    "WHERE table_schema = '{schema}' AND table_name <> '{version}'",
    "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
    "WHERE connamespace = '{schema}'::regnamespace AND conname NOT LIKE '{version}%'",
    "SELECT tablename, indexname, replace(indexdef, '{schema}.', '') FROM pg_indexes "
    "WHERE schemaname = '{schema}' AND tablename <> '{version}'",
]


async def _postgres_schema(url: str, schema: str) -> list[set[tuple[object, ...]]]:
    found = []
    for query in _POSTGRES_SCHEMA_QUERIES:
        rows = await _query(url, schema, query.format(schema=schema, version=VERSION_TABLE))
        found.append({tuple(str(v).replace(f"{schema}.", "") for v in row) for row in rows})
    return found


async def test_revision_1_makes_the_postgres_schema_of_0_1_0(
    postgres_url: str, postgres_schema: str, release_src: Path
) -> None:
    old_schema = f"{postgres_schema}_old"
    write_with_release(release_src, postgres_url, old_schema)
    try:
        await _upgrade_to(postgres_url, postgres_schema, "issues_0001", "users_0001")
        new = await _postgres_schema(postgres_url, postgres_schema)
        assert all(new)  # columns, constraints and indexes were all found
        assert new == await _postgres_schema(postgres_url, old_schema)
    finally:
        await _query(postgres_url, None, f'DROP SCHEMA IF EXISTS "{old_schema}" CASCADE')


# -- revision 2 adds due_date --------------------------------------------------------------


def _no_sqlite_differences(path: Path) -> list[object]:
    """What Alembic finds different between the database and this release's `metadata`."""
    engine = create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            ours = set(metadata.tables)
            context = MigrationContext.configure(
                conn,
                opts={"include_name": lambda name, kind, _: kind != "table" or name in ours},
            )
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()


async def test_a_sqlite_file_of_0_1_0_upgraded_has_the_schema_of_this_release(
    tmp_path: Path, release_src: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'issues.db'}"
    write_with_release(release_src, url)
    store, users = await _open_both(url, None)
    await store.aclose()
    await users.aclose()
    assert ("issues", "due_date") in {
        (table, column) for table, column, *_ in await _columns(url, None)
    }
    assert _no_sqlite_differences(tmp_path / "issues.db") == []


async def _columns(url: str, schema: str | None) -> list[tuple[object, ...]]:
    if schema is None:
        return await _query(
            url,
            None,
            "SELECT m.name, p.name, p.type FROM sqlite_master m "
            "JOIN pragma_table_info(m.name) p WHERE m.type = 'table'",
        )
    return await _query(
        url,
        schema,
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        f"WHERE table_schema = '{schema}'",
    )


async def test_a_postgres_schema_of_0_1_0_upgraded_is_one_this_release_would_make(
    postgres_url: str, postgres_schema: str, release_src: Path
) -> None:
    new_schema = f"{postgres_schema}_new"
    write_with_release(release_src, postgres_url, postgres_schema)
    try:
        store, users = await _open_both(postgres_url, new_schema)
        await store.aclose()
        await users.aclose()
        upgraded = SQLIssueStore(postgres_url, schema=postgres_schema, auto_upgrade=True)
        await upgraded.create_schema()
        await upgraded.aclose()
        upgraded_users = SQLUserStore(postgres_url, schema=postgres_schema, auto_upgrade=True)
        await upgraded_users.create_schema()
        await upgraded_users.aclose()
        new = await _postgres_schema(postgres_url, new_schema)
        assert ("issues", "due_date", "date", "YES", "None", "None") in new[0]
        assert new == await _postgres_schema(postgres_url, postgres_schema)
    finally:
        await _query(postgres_url, None, f'DROP SCHEMA IF EXISTS "{new_schema}" CASCADE')


async def test_a_database_at_revision_1_is_upgraded_by_its_store_when_allowed(
    database: tuple[str, str | None],
) -> None:
    """SQLite upgrades itself by default; PostgreSQL only with auto_upgrade=True."""
    url, schema = database
    await _upgrade_to(url, schema, "issues_0001")
    # Integer microseconds on SQLite (as `UTCTimestamp` keeps them), timestamptz on PostgreSQL.
    now = "1700000000000000" if schema is None else "'2023-11-14 22:13:20+00'"
    await _query(
        url,
        schema,
        "INSERT INTO issues (id, title, description, priority, priority_rank, status, "
        "created_at, updated_at, version) VALUES ('old-1', 'Old one', 'From revision 1', "
        f"'low', 0, 'open', {now}, {now}, 1)",
    )
    if schema is not None:
        refused = SQLIssueStore(url, schema=schema)
        try:
            with pytest.raises(StorageError, match="older than this release"):
                await refused.create_schema()
        finally:
            await refused.aclose()
        assert await _revisions(url, schema) == {"issues_0001"}
    store = SQLIssueStore(url, schema=schema, auto_upgrade=True if schema else None)
    try:
        old = await store.get("old-1")
        assert old.due_date is None
        assert old.title == "Old one"
    finally:
        await store.aclose()
    assert await _revisions(url, schema) == {SHIPPED_HEAD}


async def _downgrade_to(url: str, schema: str | None, target: str) -> None:
    engine = create_async_engine(url.replace("sqlite://", "sqlite+aiosqlite://"))
    translated = engine.execution_options(schema_translate_map={None: schema}) if schema else engine
    try:
        async with translated.begin() as conn:
            await conn.run_sync(
                lambda sync: command.downgrade(_migrations._config(sync, schema, None), target)
            )
    finally:
        await engine.dispose()


async def test_revision_2_steps_back_for_a_host_that_downgrades(
    database: tuple[str, str | None],
) -> None:
    """Never run by us; a host's own Alembic may. The issues stay, without due dates."""
    url, schema = database
    store = SQLIssueStore(url, schema=schema)
    issue = await store.create(IssueCreate(title="Due", description="Then not", due_date=date.max))
    await store.aclose()
    await _downgrade_to(url, schema, "issues_0001")
    assert await _revisions(url, schema) == {"issues_0001"}
    columns = {column for table, column, *_ in await _columns(url, schema) if table == "issues"}
    assert "due_date" not in columns
    again = SQLIssueStore(url, schema=schema, auto_upgrade=True)
    try:
        assert await again.get(issue.id) == issue.model_copy(update={"due_date": None})
    finally:
        await again.aclose()
    assert await _revisions(url, schema) == {SHIPPED_HEAD}


# -- revision 3 adds the event log ---------------------------------------------------------


async def _stamp_0_1_0(url: str, schema: str | None) -> None:
    """Record a 0.1.0 database as its first revisions, as every store's start does."""
    engine = create_async_engine(url.replace("sqlite://", "sqlite+aiosqlite://"))
    translated = engine.execution_options(schema_translate_map={None: schema}) if schema else engine

    def stamp(conn: Connection) -> None:
        config = _migrations._config(conn, schema, None)
        command.stamp(config, ["issues_0001", "users_0001"])

    try:
        async with translated.begin() as conn:
            await conn.run_sync(stamp)
    finally:
        await engine.dispose()


async def _database_of_0_2_0(url: str, schema: str | None, release_src: Path) -> dict[str, Any]:
    """A database as 0.2.0 leaves it (revisions issues_0002, users_0002): 0.1.0's rows
    brought there by the revisions, and a due date set, as only 0.2.0 could. What this
    release must then read."""
    before = write_with_release(release_src, url, schema)
    await _stamp_0_1_0(url, schema)
    await _upgrade_to(url, schema, "issues_0002", "users_0002")
    first = before["issues"][0]["id"]
    await _query(url, schema, f"UPDATE issues SET due_date = '2031-02-03' WHERE id = '{first}'")
    issues = [{**issue, "due_date": None} for issue in before["issues"]]
    issues[0]["due_date"] = "2031-02-03"
    return {**before, "issues": issues}


async def test_a_database_of_0_2_0_is_upgraded_with_an_empty_event_log(
    database: tuple[str, str | None], release_src: Path
) -> None:
    url, schema = database
    before = await _database_of_0_2_0(url, schema, release_src)
    assert await _revisions(url, schema) == {"issues_0002", "users_0002"}
    assert not {"issue_events", "issue_event_ids"} & await _tables(url, schema)
    if schema is not None:
        refused = SQLIssueStore(url, schema=schema)
        try:
            with pytest.raises(StorageError, match="older than this release"):
                await refused.create_schema()
        finally:
            await refused.aclose()
    store = SQLIssueStore(url, schema=schema, auto_upgrade=True)
    users = SQLUserStore(url, schema=schema)
    try:
        await store.create_schema()
        assert await _revisions(url, schema) == {SHIPPED_HEAD, "users_0002"}
        assert await read_with_this_release(store, users) == before
        # The past was never recorded: the log starts empty, and its first event is 1.
        first = before["issues"][0]
        assert await store.last_event_id() == 0
        timeline = await store.issue_events(first["id"])
        assert (list(timeline.items), timeline.total) == ([], 0)
        changed = await store.update(first["id"], IssueUpdate(title="Changed after"), actor="ada")
        [event] = await store.list_events(EventQuery())
        assert (event.id, event.type, event.actor) == (1, EventType.ISSUE_UPDATED, "ada")
        assert event.issue == changed
        assert changed.due_date == date(2031, 2, 3)
        assert changed.version == first["version"] + 1
    finally:
        await store.aclose()
        await users.aclose()


async def test_revision_3_steps_back_for_a_host_that_downgrades(
    database: tuple[str, str | None],
) -> None:
    """Never run by us; a host's own Alembic may. The issues stay, the log goes."""
    url, schema = database
    store = SQLIssueStore(url, schema=schema)
    issue = await store.create(IssueCreate(title="Logged", description="Then not"))
    await store.aclose()
    await _downgrade_to(url, schema, "issues_0002")
    assert await _revisions(url, schema) == {"issues_0002"}
    assert not {"issue_events", "issue_event_ids"} & await _tables(url, schema)
    again = SQLIssueStore(url, schema=schema, auto_upgrade=True)
    try:
        assert await again.get(issue.id) == issue
        assert await again.last_event_id() == 0
    finally:
        await again.aclose()
    assert await _revisions(url, schema) == {SHIPPED_HEAD}


# -- revision 4 adds webhooks --------------------------------------------------------------


async def _database_at_revision_3(url: str, schema: str | None, release_src: Path) -> str:
    """0.1.0's rows brought to revision 3 (the release before webhooks), with one event in
    its log, as that release would have written it. Returns that event's issue id."""
    before = write_with_release(release_src, url, schema)
    await _stamp_0_1_0(url, schema)
    await _upgrade_to(url, schema, "issues_0003", "users_0002")
    first = before["issues"][0]["id"]
    now = "1700000000000000" if schema is None else "'2023-11-14 22:13:20+00'"
    await _query(
        url,
        schema,
        "INSERT INTO issue_events (id, type, issue_id, actor, created_at) "
        f"VALUES (1, 'issue.deleted', '{first}', 'ada', {now})",
    )
    await _query(url, schema, "INSERT INTO issue_event_ids (id, last_id) VALUES (1, 1)")
    return str(first)


async def test_a_database_at_revision_3_is_upgraded_and_serves_hooks(
    database: tuple[str, str | None], release_src: Path
) -> None:
    url, schema = database
    await _database_at_revision_3(url, schema, release_src)
    assert not {"hooks", "hook_deliveries", "hook_lease"} & await _tables(url, schema)
    store = SQLIssueStore(url, schema=schema, auto_upgrade=True)
    try:
        await store.create_schema()
        assert await _revisions(url, schema) == {SHIPPED_HEAD, "users_0002"}
        assert (await store.hooks.list_hooks()).total == 0
        hook = await store.hooks.create_hook(
            HookCreate(url="https://ci.example.com/hook", secret=SecretStr("s" * 16))
        )
        # The event logged before the upgrade is older than the hook: never delivered.
        assert await store.hooks.enqueue_deliveries() == 0
        issue = await store.create(IssueCreate(title="After", description="The upgrade"))
        assert await store.hooks.enqueue_deliveries() == 1
        [due] = await store.hooks.due_deliveries()
        assert (due.hook_id, due.event_id, due.secret) == (hook.id, 2, "s" * 16)
        assert json.loads(due.body)["issue"]["id"] == issue.id
        assert await store.hooks.hold_delivery_lease("worker-1")
        await store.hooks.delete_hook(hook.id)
        assert await _query(url, schema, "SELECT count(*) FROM hook_deliveries") == [(0,)]
    finally:
        await store.aclose()


async def test_revision_4_steps_back_for_a_host_that_downgrades(
    database: tuple[str, str | None],
) -> None:
    """Never run by us; a host's own Alembic may. Issues and events stay, hooks go."""
    url, schema = database
    store = SQLIssueStore(url, schema=schema)
    issue = await store.create(IssueCreate(title="Hooked", description="Then not"))
    await store.hooks.create_hook(
        HookCreate(url="https://ci.example.com/hook", secret=SecretStr("s" * 16))
    )
    await store.hooks.enqueue_deliveries()
    await store.aclose()
    await _downgrade_to(url, schema, "issues_0003")
    assert await _revisions(url, schema) == {"issues_0003"}
    assert not {"hooks", "hook_deliveries", "hook_lease"} & await _tables(url, schema)
    again = SQLIssueStore(url, schema=schema, auto_upgrade=True)
    try:
        assert await again.get(issue.id) == issue
        assert await again.last_event_id() == 1
        assert (await again.hooks.list_hooks()).total == 0
    finally:
        await again.aclose()
    assert await _revisions(url, schema) == {SHIPPED_HEAD}


# -- 0.1.0's databases are upgraded and served ---------------------------------------------


async def test_a_database_of_0_1_0_is_upgraded_and_served_with_every_row(
    database: tuple[str, str | None], release_src: Path
) -> None:
    url, schema = database
    before = write_with_release(release_src, url, schema)
    store, users = (
        SQLIssueStore(url, schema=schema, auto_upgrade=True),
        SQLUserStore(url, schema=schema, auto_upgrade=True),
    )
    try:
        await store.create_schema()
        await users.create_schema()
        after = await read_with_this_release(store, users)
        # Every row as 0.1.0 wrote it, and none due.
        assert after == {
            **before,
            "issues": [{**issue, "due_date": None} for issue in before["issues"]],
        }
        assert await _revisions(url, schema) == {SHIPPED_HEAD, "users_0002"}
        assert any(issue["status"] == "closed" for issue in before["issues"])
        first = before["issues"][0]["id"]
        due = await store.update(first, IssueUpdate(due_date=date(2030, 1, 31)))
        assert due.due_date == date(2030, 1, 31)
        assert due.version == before["issues"][0]["version"] + 1
        found = await store.list(IssueQuery(due_after=date(2030, 1, 31)))
        assert [issue.id for issue in found.items] == [first]
        by_due = await store.list(IssueQuery(sort="due_date", direction="desc"))
        assert [issue.id for issue in by_due.items] == [
            first,
            *(issue["id"] for issue in before["issues"][1:]),
        ]
        issue = await store.create(IssueCreate(title="After", description="The upgrade"))
        assert (await store.get(issue.id)).title == "After"
    finally:
        await store.aclose()
        await users.aclose()


async def test_a_new_database_is_created_through_the_migrations(
    database: tuple[str, str | None],
) -> None:
    url, schema = database
    store = SQLIssueStore(url, schema=schema, auto_upgrade=False)
    try:
        await store.create_schema()
        assert await _revisions(url, schema) == {SHIPPED_HEAD}
    finally:
        await store.aclose()


# -- older and newer databases ------------------------------------------------------------


async def test_an_older_postgres_database_is_refused_naming_the_command(
    postgres_url: str, postgres_schema: str, with_next_revision: Callable[[], None]
) -> None:
    store = SQLIssueStore(postgres_url, schema=postgres_schema)
    await store.create_schema()
    await store.aclose()
    with_next_revision()
    # The test server trusts any password: one is given to see it is never shown.
    with_password = make_url(postgres_url).set(password="sekrit-word")
    url = with_password.render_as_string(hide_password=False)
    refused = SQLIssueStore(url, schema=postgres_schema)
    try:
        with pytest.raises(StorageError) as caught:
            await refused.create_schema()
        message = str(caught.value)
        assert "fastapi-issues db upgrade --url" in message
        assert f"--schema {postgres_schema}" in message
        assert "older than this release" in message
        assert "sekrit-word" not in message
        assert "***" in message
        with pytest.raises(StorageError, match="db upgrade"):
            await refused.list_labels()
    finally:
        await refused.aclose()
    assert await _revisions(postgres_url, postgres_schema) == {SHIPPED_HEAD}
    upgrading = SQLIssueStore(postgres_url, schema=postgres_schema, auto_upgrade=True)
    try:
        await upgrading.create_schema()
    finally:
        await upgrading.aclose()
    assert await _revisions(postgres_url, postgres_schema) == {NEXT_REVISION}


async def test_sqlite_upgrades_itself_by_default(
    tmp_path: Path, with_next_revision: Callable[[], None]
) -> None:
    url = f"sqlite:///{tmp_path / 'issues.db'}"
    store = SQLIssueStore(url)
    issue = await store.create(IssueCreate(title="Before", description="The upgrade"))
    await store.aclose()
    with_next_revision()
    store = SQLIssueStore(url)
    try:
        assert await store.get(issue.id) == issue
    finally:
        await store.aclose()
    assert await _revisions(url, None) == {NEXT_REVISION}
    assert await _query(url, None, "SELECT count(*) FROM upgrade_marker") == [(0,)]


async def test_a_sqlite_store_told_not_to_upgrade_refuses(
    tmp_path: Path, with_next_revision: Callable[[], None]
) -> None:
    url = f"sqlite:///{tmp_path / 'issues.db'}"
    store = SQLIssueStore(url)
    await store.create_schema()
    await store.aclose()
    with_next_revision()
    store = SQLIssueStore(url, auto_upgrade=False)
    try:
        with pytest.raises(StorageError, match=r"run: fastapi-issues db upgrade --url 'sqlite"):
            await store.create_schema()
    finally:
        await store.aclose()


@pytest.mark.parametrize("auto_upgrade", [False, True])
async def test_a_newer_revision_is_always_refused(
    database: tuple[str, str | None], auto_upgrade: bool
) -> None:
    url, schema = database
    store = SQLIssueStore(url, schema=schema)
    await store.create_schema()
    await store.aclose()
    # As a later release would leave it.
    await _query(url, schema, f"UPDATE {VERSION_TABLE} SET version_num = 'issues_0099'")
    newer = SQLIssueStore(url, schema=schema, auto_upgrade=auto_upgrade)
    try:
        with pytest.raises(StorageError, match="issues_0099, newer than this release"):
            await newer.create_schema()
    finally:
        await newer.aclose()


# -- processes starting together ----------------------------------------------------------

_START = r"""
import asyncio, json, sys
from fastapi_issues.storage.sql import SQLIssueStore, _migrations

url, schema, location = sys.argv[1], sys.argv[2] or None, sys.argv[3]
_migrations.VERSION_LOCATIONS = (*_migrations.VERSION_LOCATIONS, location)


async def main():
    store = SQLIssueStore(url, schema=schema, auto_upgrade=True)
    issues = [issue.id async for issue in store.export_issues()]
    await store.aclose()
    print(json.dumps(issues))


asyncio.run(main())
"""


async def test_two_processes_starting_on_an_old_database_take_turns(
    database: tuple[str, str | None], release_src: Path, tmp_path: Path
) -> None:
    url, schema = database
    before = write_with_release(release_src, url, schema)
    location = add_next_revision(tmp_path / "revisions", pause=1.0)
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            _START,
            url,
            schema or "",
            location,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(2)
    ]
    try:
        outputs = await asyncio.wait_for(
            asyncio.gather(*(process.communicate() for process in processes)), timeout=120
        )
    finally:
        for process in processes:
            if process.returncode is None:
                process.kill()
    for process, (out, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, err.decode()
        assert json.loads(out) == [issue["id"] for issue in before["issues"]]
    # One upgraded (stamping 0.1.0's record first), the other waited and found it done.
    assert await _revisions(url, schema) == {NEXT_REVISION, "users_0001"}
    assert await _query(url, schema, "SELECT count(*) FROM upgrade_marker") == [(0,)]


async def test_a_process_killed_mid_upgrade_leaves_the_old_revision(
    database: tuple[str, str | None],
    release_src: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, schema = database
    before = write_with_release(release_src, url, schema)
    signal = tmp_path / "halfway"
    location = add_next_revision(tmp_path / "revisions", pause=60.0, signal=signal)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _START, url, schema or "", location
    )
    try:
        for _ in range(600):
            if signal.exists() or process.returncode is not None:
                break
            await asyncio.sleep(0.05)
        assert signal.exists(), "the upgrade never got halfway"
    finally:
        process.kill()  # SIGKILL: no clean-up, no rollback by the process itself
        await process.wait()
    # Nothing of the stamp or of the half-done revision is left: 0.1.0's database as it was.
    tables = await _tables(url, schema)
    assert "issues" in tables
    assert "upgrade_marker" not in tables
    assert VERSION_TABLE not in tables
    # The next start upgrades it, every row kept (quickly: its pause was for the killing).
    add_next_revision(tmp_path / "revisions")
    monkeypatch.setattr(
        _migrations, "VERSION_LOCATIONS", (*_migrations.VERSION_LOCATIONS, location)
    )
    store = SQLIssueStore(url, schema=schema, auto_upgrade=True)
    try:
        assert [issue.id async for issue in store.export_issues()] == [
            issue["id"] for issue in before["issues"]
        ]
    finally:
        await store.aclose()
    assert await _revisions(url, schema) == {NEXT_REVISION, "users_0001"}
