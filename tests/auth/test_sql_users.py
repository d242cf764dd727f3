"""`SQLUserStore`: the user contract on SQLite and PostgreSQL, beside the issues."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import insert

from fastapi_issues.auth import SQLUserStore, UserInDB, UserNotFound, UserStoreNotFound
from fastapi_issues.auth._sql_schema import users as users_table
from fastapi_issues.auth.urls import open_user_store
from fastapi_issues.auth.users import UserUpdate, normalize_username
from fastapi_issues.storage.errors import StorageError
from fastapi_issues.storage.sql import SQLIssueStore
from fastapi_issues.testing import UserStoreContract

pytestmark = pytest.mark.anyio


Seed = Callable[[Sequence[UserInDB]], Awaitable[None]]


def seed_table(store: SQLUserStore) -> Seed:
    """Inserts users as an old table holds them: past the check `create` makes."""

    async def seed(users: Sequence[UserInDB]) -> None:
        await store.create_schema()
        keyed: set[str] = set()
        async with store.engine.begin() as conn:
            # As revision users_0002 leaves them: the first of names alike (in code-point
            # order) holds the key, the others none.
            for user in sorted(users, key=lambda user: user.username):
                values = user.model_dump(exclude={"hashed_password"})
                hashed = user.hashed_password.get_secret_value()
                key = normalize_username(user.username)
                name_key = None if key in keyed else key
                keyed.add(key)
                await conn.execute(
                    insert(users_table),
                    {**values, "hashed_password": hashed, "name_key": name_key},
                )

    return seed


class TestSQLiteUserStore(UserStoreContract):
    @pytest.fixture
    async def store(self, tmp_path: Path) -> AsyncIterator[SQLUserStore]:
        store = SQLUserStore(f"sqlite:///{tmp_path / 'issues.db'}")
        yield store
        await store.aclose()

    @pytest.fixture
    def seed_colliding_users(self, store: SQLUserStore) -> Seed:
        return seed_table(store)


class TestSQLiteUserStoreTwoConnections(UserStoreContract):
    """Writes through one store, reads through another on the same file."""

    @pytest.fixture
    async def store(self, tmp_path: Path) -> AsyncIterator[object]:
        url = f"sqlite:///{tmp_path / 'issues.db'}"
        writer = SQLUserStore(url)
        reader = SQLUserStore(url)

        class SplitStore:
            create = writer.create
            update = writer.update
            get = reader.get
            list = reader.list
            seed = staticmethod(seed_table(writer))

        yield SplitStore()
        await writer.aclose()
        await reader.aclose()

    @pytest.fixture
    def seed_colliding_users(self, store: Any) -> Seed:
        return store.seed  # type: ignore[no-any-return]


class TestPostgresUserStore(UserStoreContract):
    @pytest.fixture
    async def store(self, postgres_url: str, postgres_schema: str) -> AsyncIterator[SQLUserStore]:
        store = SQLUserStore(postgres_url, schema=postgres_schema)
        yield store
        await store.aclose()

    @pytest.fixture
    def seed_colliding_users(self, store: SQLUserStore) -> Seed:
        return seed_table(store)


def user(name: str = "ada") -> UserInDB:
    return UserInDB(username=name, hashed_password=SecretStr(f"hash-of-{name}"))


async def test_users_live_in_the_issues_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'issues.db'}"
    issues = SQLIssueStore(url)
    users = open_user_store(url)
    try:
        assert isinstance(users, SQLUserStore)
        await users.create(user())
        await issues.create_schema()
    finally:
        await issues.aclose()
        await users.aclose()
    with sqlite3.connect(tmp_path / "issues.db") as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        assert conn.execute("SELECT username, hashed_password FROM users").fetchall() == [
            ("ada", "hash-of-ada")
        ]
    assert {"issues", "users", "fastapi_issues_meta"} <= tables


async def test_the_issue_store_makes_no_users_table_the_user_store_does(tmp_path: Path) -> None:
    # Each store creates and records its own tables, whichever comes first.
    url = f"sqlite:///{tmp_path / 'issues.db'}"
    issues = SQLIssueStore(url)
    try:
        await issues.create_schema()
    finally:
        await issues.aclose()
    with sqlite3.connect(tmp_path / "issues.db") as conn:
        assert not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'users'").fetchall()
    users = SQLUserStore(url)
    try:
        await users.create(user())
    finally:
        await users.aclose()
    with sqlite3.connect(tmp_path / "issues.db") as conn:
        recorded = {row[0] for row in conn.execute("SELECT key FROM fastapi_issues_meta")}
    assert {"table:issues", "table:users"} <= recorded


def test_the_sql_storage_imports_nothing_from_auth() -> None:
    # The users table belongs to auth, which builds on storage, never the other way.
    code = (
        "import sys, fastapi_issues.storage.sql as sql; "
        "assert 'users' not in sql.metadata.tables; "
        "print(sorted(m for m in sys.modules if m.startswith('fastapi_issues.auth')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


async def test_open_user_store_with_create_false_needs_the_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'issues.db'}"
    with pytest.raises(UserStoreNotFound, match="no SQLite database"):
        open_user_store(url, create=False)
    assert not (tmp_path / "issues.db").exists()
    made = SQLUserStore(url)
    await made.create(user())
    await made.aclose()
    found = open_user_store(url, create=False)
    try:
        assert (await found.get("ada")).username == "ada"
    finally:
        await found.aclose()  # type: ignore[attr-defined]


async def test_a_host_apps_own_users_table_is_refused(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "app.db") as conn:
        conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, login TEXT)")
    store = SQLUserStore(f"sqlite:///{tmp_path / 'app.db'}")
    try:
        with pytest.raises(StorageError, match="table users exists but was not made"):
            await store.list()
    finally:
        await store.aclose()


@pytest.mark.postgres
async def test_odd_usernames_are_simply_not_found_on_postgres(
    postgres_url: str, postgres_schema: str
) -> None:
    store = SQLUserStore(postgres_url, schema=postgres_schema)
    try:
        for odd in ("a\x00b", "'; DROP TABLE users; --", ""):
            with pytest.raises(UserNotFound):
                await store.get(odd)
            with pytest.raises(UserNotFound):
                await store.update(odd, UserUpdate(disabled=True))
    finally:
        await store.aclose()
