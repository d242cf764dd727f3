"""Revision users_0002 (`auth/migrations/`) applied to databases made by 0.1.0's own code:
the normalised name key with its unique index, token generations, stored admins and the
login throttle's table, on SQLite and PostgreSQL; clean databases, and ones whose old
usernames collide."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import create_async_engine

from fastapi_issues.auth.sql import SQLUserStore
from fastapi_issues.auth.users import (
    AmbiguousUsername,
    UserExists,
    UserInDB,
    UserUpdate,
    username_collisions,
)
from fastapi_issues.storage.sql import VERSION_TABLE
from tests.releases import extract_0_1_0

pytestmark = pytest.mark.anyio

# 0.1.0 had no rule on case: its `create` stored each of these as a user of its own.
_WRITE_USERS = r"""
import asyncio, json, sys
from fastapi_issues.auth.sql import SQLUserStore
from fastapi_issues.auth.users import UserInDB

url, schema, names = sys.argv[1], sys.argv[2] or None, json.loads(sys.argv[3])


async def main():
    users = SQLUserStore(url, schema=schema)
    for n, name in enumerate(names):
        await users.create(UserInDB(username=name, email=f"{n}@example.com",
                                    disabled=n == 1, hashed_password=f"hash-{n}"))
    print(json.dumps([
        {**u.model_dump(mode="json"), "hashed_password": u.hashed_password.get_secret_value()}
        for u in await users.list()
    ]))
    await users.aclose()


asyncio.run(main())
"""


@pytest.fixture(scope="module")
def release_src(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return extract_0_1_0(tmp_path_factory.mktemp("release-0.1.0"))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str | None]:
    """A SQLite file, or a PostgreSQL schema of this test's own: (url, schema)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'issues.db'}", None
    return request.getfixturevalue("postgres_url"), request.getfixturevalue("postgres_schema")


def write_users_with_0_1_0(
    release_src: Path, url: str, schema: str | None, names: list[str]
) -> list[dict[str, Any]]:
    env = {**os.environ, "PYTHONPATH": str(release_src)}
    done = subprocess.run(
        [sys.executable, "-c", _WRITE_USERS, url, schema or "", json.dumps(names)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    written: list[dict[str, Any]] = json.loads(done.stdout)
    return written


async def _query(url: str, schema: str | None, sql: str) -> list[tuple[Any, ...]]:
    engine = create_async_engine(url.replace("sqlite://", "sqlite+aiosqlite://"))
    try:
        async with engine.begin() as conn:
            if schema is not None:
                await conn.exec_driver_sql(f'SET search_path TO "{schema}"')
            return [tuple(row) for row in (await conn.execute(text(sql))).all()]
    finally:
        await engine.dispose()


def _as_0_1_0_read_them(user: UserInDB) -> dict[str, Any]:
    return {
        **user.model_dump(mode="json", exclude={"is_admin", "token_generation"}),
        "hashed_password": user.hashed_password.get_secret_value(),
    }


async def _upgraded(url: str, schema: str | None) -> SQLUserStore:
    # PostgreSQL is upgraded only when asked (`fastapi-issues db upgrade` does the same).
    store = SQLUserStore(url, schema=schema, auto_upgrade=True)
    await store.create_schema()
    return store


async def test_a_0_1_0_database_gets_keys_generations_and_admins(
    database: tuple[str, str | None], release_src: Path
) -> None:
    url, schema = database
    before = write_users_with_0_1_0(release_src, url, schema, ["ada", "Grace.H", "bob"])
    store = await _upgraded(url, schema)
    try:
        users = await store.list()
        assert [_as_0_1_0_read_them(user) for user in users] == before
        assert {(u.is_admin, u.token_generation) for u in users} == {(False, 0)}
        keys = await _query(url, schema, "SELECT username, name_key FROM users ORDER BY 1")
        assert keys == [("Grace.H", "grace.h"), ("ada", "ada"), ("bob", "bob")]
        assert (await store.get("GRACE.h")).username == "Grace.H"
        with pytest.raises(UserExists) as caught:
            await store.create(UserInDB(username="ADA", hashed_password=SecretStr("h")))
        assert caught.value.existing == "ada"
        # The new columns are written and read.
        changed = await store.update("ada", UserUpdate(is_admin=True, token_generation=3))
        assert (changed.is_admin, changed.token_generation) == (True, 3)
        assert await store.get("ada") == changed
        revisions = await _query(url, schema, f"SELECT version_num FROM {VERSION_TABLE}")
        assert revisions == [("users_0002",)]
        assert await _query(url, schema, "SELECT count(*) FROM login_failures") == [(0,)]
    finally:
        await store.aclose()


async def test_colliding_0_1_0_names_are_upgraded_unchanged_and_still_guarded(
    database: tuple[str, str | None], release_src: Path
) -> None:
    url, schema = database
    names = ["alice", "Alice", "ALICE", "bob"]
    before = write_users_with_0_1_0(release_src, url, schema, names)
    store = await _upgraded(url, schema)
    try:
        users = await store.list()
        # Not one row changed, none dropped: the upgrade did not fail, nor pick a winner.
        assert [_as_0_1_0_read_them(user) for user in users] == before
        assert username_collisions(u.username for u in users) == [["ALICE", "Alice", "alice"]]
        # The first in code-point order holds the key; the others keep none.
        keys = await _query(url, schema, "SELECT username, name_key FROM users ORDER BY 1")
        assert keys == [("ALICE", "alice"), ("Alice", None), ("alice", None), ("bob", "bob")]
        # Each old user still logs in by the exact name it had, with its own hash.
        for n, name in enumerate(names):
            assert (await store.get(name)).hashed_password.get_secret_value() == f"hash-{n}"
        with pytest.raises(AmbiguousUsername):
            await store.get("aLiCe")
        # No new name like theirs gets in, from any process: the unique index refuses it.
        with pytest.raises(UserExists) as caught:
            await store.create(UserInDB(username="aLiCe", hashed_password=SecretStr("h")))
        assert caught.value.existing == "ALICE"
        created = await store.create(UserInDB(username="carol", hashed_password=SecretStr("h")))
        assert await store.get("CAROL") == created
    finally:
        await store.aclose()


async def test_a_duplicate_key_row_cannot_be_written_past_the_index(
    database: tuple[str, str | None],
) -> None:
    url, schema = database
    store = await _upgraded(url, schema)
    try:
        await store.create(UserInDB(username="ada", hashed_password=SecretStr("h")))
        # Another program (or an old process) writing the table directly is refused too.
        with pytest.raises(IntegrityError):
            await _query(
                url,
                schema,
                "INSERT INTO users (username, disabled, hashed_password, name_key) "
                "VALUES ('Ada', false, 'h', 'ada')",
            )
    finally:
        await store.aclose()
