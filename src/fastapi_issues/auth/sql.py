"""Users in a SQL database, the same one as the issues: SQLite or PostgreSQL.

Needs the `auth` and `sql` extras (and `postgres` for PostgreSQL).

Usernames are unique in their normalised form (NFKC, case-folded), and the table's primary
key is the display form. Until the migrations issue adds a unique index on the normalised
name, `create` checks for a name that normalises alike in the same transaction as its
insert, under a lock, and `get` looks a name up exactly first (the primary key: what tokens
carry), and by its normalised form only when that finds nothing (a full scan without the
index).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Text, bindparam, func, insert, literal_column, select, text
from sqlalchemy import update as sql_update
from sqlalchemy.engine import URL
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from fastapi_issues.auth._sql_schema import users
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
    SQLITE_USERNAME_KEY_FUNCTION,
    SQLDatabase,
    SQLStoreBase,
    raise_database_error,
)

__all__ = ["SQLUserStore"]

_COLUMNS = (
    users.c.username,
    users.c.email,
    users.c.full_name,
    users.c.disabled,
    users.c.hashed_password,
)
_FIELDS = tuple(column.name for column in _COLUMNS)

_SELECT_ONE = select(*_COLUMNS).where(users.c.username == bindparam("match_username"))
_SELECT_ALL = select(*_COLUMNS).order_by(users.c.username)
_INSERT = insert(users)
# Executed with the changed columns as parameters, which become its SET clause: one atomic
# statement, so concurrent changes of different fields never undo each other.
_UPDATE = (
    sql_update(users).where(users.c.username == bindparam("match_username")).returning(*_COLUMNS)
)
# Any constant will do, as long as every process uses the same one (the schema lock uses
# another): the first half of the two-key advisory lock taken around a create.
_CREATE_LOCK_CLASS = 0x75736572  # "user"


def _postgres_key(value: ColumnElement[str]) -> ColumnElement[str]:
    # PostgreSQL cannot run Python's casefold: lower() in the database's own collation (the
    # column's "C" folds ASCII only) after NFKC. It agrees with `normalize_username` on
    # every name the username pattern allows (ASCII); for a few others (ß) it may not, and
    # `fastapi-issues user check` still finds those collisions.
    normalized = func.normalize(value, literal_column("NFKC"), type_=Text)
    return func.lower(normalized.collate("default"), type_=Text)


def _sqlite_key(value: ColumnElement[str]) -> ColumnElement[str]:
    # The connection runs Python's own `normalize_username` (see `SQLDatabase`).
    return getattr(func, SQLITE_USERNAME_KEY_FUNCTION)(value, type_=Text)  # type: ignore[no-any-return]


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
        key = _postgres_key if self._db.dialect == "postgresql" else _sqlite_key
        # The index this wants (migrations issue): a unique one on the normalised name,
        # best a column the app fills with `normalize_username`.
        self._select_alike = select(*_COLUMNS).where(
            key(users.c.username) == key(bindparam("match_name", type_=Text))
        )

    async def get(self, username: str) -> UserInDB:
        # PostgreSQL text cannot hold NUL: no stored username has one.
        if self._db.unstorable(username):
            raise UserNotFound(username)
        # Every authenticated request reads its user by the name its token carries, the
        # stored one: the direct path, as issue reads, and the primary key.
        rows = await self._db.fetch(_SELECT_ONE, {"match_username": username})
        if rows:
            return _user(rows[0])
        alike = await self._db.fetch(self._select_alike, {"match_name": username})
        # Filtered again in Python: its folding is the rule; the database's only narrows.
        return pick_user(username, [_user(row) for row in alike])

    async def create(self, user: UserInDB) -> UserInDB:
        if not self._db.ready:
            await self._db.ensure_schema()
        values = _columns(user.model_dump(include=set(_FIELDS)))
        values["hashed_password"] = user.hashed_password.get_secret_value()
        try:
            # The full engine: a real transaction, also on PostgreSQL.
            async with self._db.engine.connect() as conn:
                await self._lock_name(conn, user.username)
                taken = await self._taken_by(conn, user.username)
                if taken is not None:
                    raise UserExists(user.username, taken)
                await conn.execute(_INSERT, values)
                await conn.commit()
        except IntegrityError:
            # The primary key: another process added this very name.
            raise UserExists(user.username) from None
        except DATABASE_ERRORS as exc:
            raise_database_error(exc)
        return user

    async def _lock_name(self, conn: AsyncConnection, username: str) -> None:
        """Make creates of names that normalise alike take turns until commit."""
        if self._db.dialect == "sqlite":
            # The database's write lock, taken now: no other write until this one commits.
            await conn.exec_driver_sql("BEGIN IMMEDIATE")
            return
        await conn.execute(
            text("SELECT pg_advisory_xact_lock(:lock_class, hashtext(:name_key))"),
            {"lock_class": _CREATE_LOCK_CLASS, "name_key": normalize_username(username)},
        )

    async def _taken_by(self, conn: AsyncConnection, username: str) -> str | None:
        rows = (await conn.execute(self._select_alike, {"match_name": username})).all()
        key = normalize_username(username)
        return next((row[0] for row in rows if normalize_username(row[0]) == key), None)

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
