"""Users in a SQL database, the same one as the issues: SQLite or PostgreSQL.

Needs the `auth` and `sql` extras (and `postgres` for PostgreSQL).

Usernames are unique in their normalised form (NFKC, case-folded): the `name_key` column
holds it under a unique index (revision users_0002), so the database refuses a second
`Alice` by itself, from any process. The primary key is the display form. `get` looks a
name up exactly first (the primary key: what tokens carry), then by its key.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy import bindparam, delete, insert, or_, select, text
from sqlalchemy import update as sql_update
from sqlalchemy.engine import URL
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from fastapi_issues.auth._sql_schema import login_failures, users
from fastapi_issues.auth.throttle import Failures
from fastapi_issues.auth.users import (
    UserExists,
    UserInDB,
    UserNotFound,
    UserUpdate,
    normalize_username,
    pick_user,
    read_user,
)
from fastapi_issues.storage.errors import StorageError
from fastapi_issues.storage.sql import (
    DATABASE_ERRORS,
    SQLDatabase,
    SQLStoreBase,
    raise_database_error,
)

__all__ = ["SQLThrottleStorage", "SQLUserStore"]

T = TypeVar("T")

_COLUMNS = (
    users.c.username,
    users.c.email,
    users.c.full_name,
    users.c.disabled,
    users.c.hashed_password,
    users.c.is_admin,
    users.c.token_generation,
)
_FIELDS = tuple(column.name for column in _COLUMNS)

_SELECT_ONE = select(*_COLUMNS).where(users.c.username == bindparam("match_username"))
# Rows without a key are old ones whose names collide with the key's holder: few, and
# among the candidates of a name like theirs (`pick_user` sorts them out).
_SELECT_ALIKE = select(*_COLUMNS).where(
    or_(users.c.name_key == bindparam("match_key"), users.c.name_key.is_(None))
)
_SELECT_HOLDER = select(users.c.username).where(users.c.name_key == bindparam("match_key"))
_SELECT_ALL = select(*_COLUMNS).order_by(users.c.username)
_INSERT = insert(users)
# Executed with the changed columns as parameters, which become its SET clause: one atomic
# statement, so concurrent changes of different fields never undo each other.
_UPDATE = (
    sql_update(users).where(users.c.username == bindparam("match_username")).returning(*_COLUMNS)
)


def _user(row: Sequence[Any]) -> UserInDB:
    try:
        return read_user(dict(zip(_FIELDS, row, strict=True)))
    except ValueError as exc:
        raise StorageError(f"a user row cannot be read: {exc}") from None


def _columns(values: dict[str, Any]) -> dict[str, Any]:
    if "hashed_password" in values:
        values["hashed_password"] = values["hashed_password"].get_secret_value()
    return values


class SQLUserStore(SQLStoreBase):
    """Users in the `users` table of a SQLite or PostgreSQL database.

    Give it the same URL (and `schema`) as the `SQLIssueStore`, or the same `AsyncEngine`,
    and users live beside the issues. Like it, it creates its table on first use, or with
    `create_schema()` (through the migrations of `auth/migrations/`), and offers
    `lifespan` and `aclose`.

    Args:
        url_or_engine: `sqlite:///issues.db`, `postgresql://user@host/db` (async drivers
            filled in), or an `AsyncEngine`, which stays yours to dispose of.
        schema: the PostgreSQL schema to keep the table in.
        auto_upgrade: upgrade a database older than this release at start (Alembic branch
            `users`), instead of refusing it (default: True for SQLite, False for
            PostgreSQL).
    """

    def __init__(
        self,
        url_or_engine: str | URL | AsyncEngine,
        *,
        schema: str | None = None,
        auto_upgrade: bool | None = None,
    ) -> None:
        self._db = SQLDatabase(
            url_or_engine, branch="users", schema=schema, auto_upgrade=auto_upgrade
        )
        self._engine = self._db.statement_engine

    async def get(self, username: str) -> UserInDB:
        # PostgreSQL text cannot hold NUL: no stored username has one.
        if self._db.unstorable(username):
            raise UserNotFound(username)
        # Every authenticated request reads its user by the name its token carries, the
        # stored one: the direct path, as issue reads, and the primary key.
        rows = await self._db.fetch(_SELECT_ONE, {"match_username": username})
        if rows:
            return _user(rows[0])
        alike = await self._db.fetch(_SELECT_ALIKE, {"match_key": normalize_username(username)})
        return pick_user(username, [_user(row) for row in alike])

    async def create(self, user: UserInDB) -> UserInDB:
        if not self._db.ready:
            await self._db.ensure_schema()
        values = _columns(user.model_dump(include=set(_FIELDS)))
        values["hashed_password"] = user.hashed_password.get_secret_value()
        values["name_key"] = key = normalize_username(user.username)
        try:
            async with self._engine.begin() as conn:
                await conn.execute(_INSERT, values)
        except IntegrityError:
            # The primary key or the unique name key: the name, or one like it, is taken.
            holder = await self._db.fetch(_SELECT_HOLDER, {"match_key": key})
            raise UserExists(user.username, holder[0][0] if holder else None) from None
        except DATABASE_ERRORS as exc:
            raise_database_error(exc)
        return user

    async def update(self, username: str, changes: UserUpdate) -> UserInDB:
        values = _columns(changes.changes())
        if not values:
            return await self.get(username)
        # PostgreSQL text cannot hold NUL: no stored username has one.
        if self._db.unstorable(username):
            raise UserNotFound(username)
        if not self._db.ready:
            await self._db.ensure_schema()
        row = await self._update_exactly(username, values)
        if row is None:
            # Not the stored name: the one it stands for, if any (else `get` raises).
            stored = (await self.get(username)).username
            row = await self._update_exactly(stored, values)
        if row is None:
            raise UserNotFound(username)
        return _user(row)

    async def _update_exactly(self, username: str, values: dict[str, Any]) -> Sequence[Any] | None:
        try:
            async with self._engine.begin() as conn:
                return (await conn.execute(_UPDATE, {**values, "match_username": username})).first()
        except DATABASE_ERRORS as exc:
            raise_database_error(exc)

    async def list(self) -> Sequence[UserInDB]:
        if not self._db.ready:
            await self._db.ensure_schema()
        try:
            async with self._engine.connect() as conn:
                rows = (await conn.execute(_SELECT_ALL)).all()
        except DATABASE_ERRORS as exc:
            raise_database_error(exc)
        return [_user(row) for row in rows]

    def throttle_storage(self) -> SQLThrottleStorage:
        """Login throttle counts in this database (`login_failures`), shared by every
        process using it: pass to `LoginThrottle`."""
        return SQLThrottleStorage(self._db)


_FAILURES = (login_failures.c.count, login_failures.c.last, login_failures.c.expires)
_SELECT_FAILURES = select(*_FAILURES).where(login_failures.c.key == bindparam("match_key"))
_DELETE_FAILURES = delete(login_failures).where(login_failures.c.key == bindparam("match_key"))
_DELETE_EXPIRED = delete(login_failures).where(login_failures.c.expires <= bindparam("now"))
_SET_FAILURES = (
    sql_update(login_failures)
    .where(login_failures.c.key == bindparam("match_key"))
    .values(count=bindparam("count"))
)
# As `_CREATE_LOCK_CLASS` was: any constant every process shares, unlike the schema lock's.
_THROTTLE_LOCK_CLASS = 0x6C6F6769  # "logi"


class SQLThrottleStorage:
    """The login throttle's counts in the `login_failures` table (users revision 2), so
    every worker on the database counts together. Made by `SQLUserStore.throttle_storage()`.

    Each change runs in a transaction holding a lock on its key (PostgreSQL: an advisory
    lock; SQLite: the write lock), so counts are never lost to a race.
    """

    def __init__(self, database: SQLDatabase) -> None:
        self._db = database

    async def get(self, key: str) -> Failures | None:
        if not self._db.ready:
            await self._db.ensure_schema()
        try:
            # Not `fetch`: its direct path does not convert float columns on asyncpg.
            async with self._db.engine.connect() as conn:
                row = (await conn.execute(_SELECT_FAILURES, {"match_key": key})).first()
        except DATABASE_ERRORS as exc:
            raise_database_error(exc)
        if row is None or row[2] <= time.time():
            return None
        return Failures(int(row[0]), float(row[1]))

    async def add(self, key: str, now: float, expire_after: float) -> Failures:
        async def count(conn: AsyncConnection) -> Failures:
            await conn.execute(_DELETE_EXPIRED, {"now": now})
            row = (await conn.execute(_SELECT_FAILURES, {"match_key": key})).first()
            total = int(row[0]) + 1 if row is not None else 1
            values = {"count": total, "last": now, "expires": now + expire_after}
            if row is None:
                await conn.execute(insert(login_failures), {"key": key, **values})
            else:
                await conn.execute(
                    sql_update(login_failures).where(login_failures.c.key == key).values(values)
                )
            return Failures(total, now)

        return await self._locked(key, count)

    async def subtract(self, key: str) -> None:
        async def uncount(conn: AsyncConnection) -> None:
            row = (await conn.execute(_SELECT_FAILURES, {"match_key": key})).first()
            if row is None:
                return
            if int(row[0]) <= 1:
                await conn.execute(_DELETE_FAILURES, {"match_key": key})
            else:
                await conn.execute(_SET_FAILURES, {"match_key": key, "count": int(row[0]) - 1})

        await self._locked(key, uncount)

    async def clear(self, key: str) -> None:
        async def forget(conn: AsyncConnection) -> None:
            await conn.execute(_DELETE_FAILURES, {"match_key": key})

        await self._locked(key, forget)

    async def _locked(self, key: str, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        if not self._db.ready:
            await self._db.ensure_schema()
        try:
            # The full engine: a real transaction, also on PostgreSQL.
            async with self._db.engine.connect() as conn:
                if self._db.dialect == "sqlite":
                    await conn.exec_driver_sql("BEGIN IMMEDIATE")
                else:
                    await conn.execute(
                        text("SELECT pg_advisory_xact_lock(:lock_class, hashtext(:throttle_key))"),
                        {"lock_class": _THROTTLE_LOCK_CLASS, "throttle_key": key},
                    )
                result = await work(conn)
                await conn.commit()
                return result
        except DATABASE_ERRORS as exc:
            raise_database_error(exc)
