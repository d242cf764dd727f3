"""Users in a SQL database, the same one as the issues: SQLite or PostgreSQL.

Needs the `auth` and `sql` extras (and `postgres` for PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NoReturn

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.engine import URL
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from fastapi_issues.auth.users import UserExists, UserInDB, UserNotFound, UserUpdate
from fastapi_issues.storage._sql_database import SQLDatabase, SQLStoreBase
from fastapi_issues.storage._sql_schema import users
from fastapi_issues.storage.base import StorageError

__all__ = ["SQLUserStore"]

_COLUMNS = (
    users.c.username,
    users.c.email,
    users.c.full_name,
    users.c.disabled,
    users.c.hashed_password,
)
_FIELDS = tuple(column.name for column in _COLUMNS)
_validate_user = UserInDB.__pydantic_validator__.validate_python

_SELECT_ONE = select(*_COLUMNS).where(users.c.username == bindparam("match_username"))
_SELECT_ALL = select(*_COLUMNS).order_by(users.c.username)
_INSERT = insert(users)
# Executed with the changed columns as parameters, which become its SET clause: one atomic
# statement, so concurrent changes of different fields never undo each other.
_UPDATE = update(users).where(users.c.username == bindparam("match_username")).returning(*_COLUMNS)


def _user(row: Sequence[Any]) -> UserInDB:
    try:
        return _validate_user(dict(zip(_FIELDS, row, strict=True)))  # type: ignore[no-any-return]
    except ValueError as exc:
        raise StorageError(f"a user row cannot be read: {exc}") from exc


def _columns(values: dict[str, Any]) -> dict[str, Any]:
    if "hashed_password" in values:
        values["hashed_password"] = values["hashed_password"].get_secret_value()
    return values


def _unavailable(exc: Exception) -> NoReturn:
    raise StorageError(f"database error: {exc}") from exc


class SQLUserStore(SQLStoreBase):
    """Users in the `users` table of a SQLite or PostgreSQL database.

    Give it the same URL (and `schema`) as the `SQLIssueStore`, or the same `AsyncEngine`,
    and users live beside the issues. Like it, it creates its table on first use, or with
    `create_schema()`, and offers `lifespan` and `aclose`.

    Args:
        url_or_engine: `sqlite:///issues.db`, `postgresql://user@host/db` (async drivers
            filled in), or an `AsyncEngine`, which stays yours to dispose of.
        schema: the PostgreSQL schema to keep the table in.
    """

    def __init__(
        self, url_or_engine: str | URL | AsyncEngine, *, schema: str | None = None
    ) -> None:
        self._db = SQLDatabase(url_or_engine, tables=[users], schema=schema)
        self._engine = self._db.statement_engine
        # PostgreSQL text cannot hold NUL: no stored username has one.
        self._nul_is_unstorable = self._db.dialect == "postgresql"

    async def get(self, username: str) -> UserInDB:
        if self._nul_is_unstorable and "\x00" in username:
            raise UserNotFound(username)
        # Every authenticated request reads its user: the direct path, as issue reads.
        rows = await self._db.fetch(_SELECT_ONE, {"match_username": username})
        if not rows:
            raise UserNotFound(username)
        return _user(rows[0])

    async def create(self, user: UserInDB) -> UserInDB:
        if not self._db.ready:
            await self._db.ensure_schema()
        values = _columns(user.model_dump(include=set(_FIELDS)))
        values["hashed_password"] = user.hashed_password.get_secret_value()
        try:
            async with self._engine.begin() as conn:
                await conn.execute(_INSERT, values)
        except IntegrityError:
            # The primary key: the check and the write are one statement.
            raise UserExists(user.username) from None
        except (SQLAlchemyError, OSError) as exc:
            _unavailable(exc)
        return user

    async def update(self, username: str, changes: UserUpdate) -> UserInDB:
        values = _columns(changes.changes())
        if not values:
            return await self.get(username)
        if self._nul_is_unstorable and "\x00" in username:
            raise UserNotFound(username)
        if not self._db.ready:
            await self._db.ensure_schema()
        values["match_username"] = username
        try:
            async with self._engine.begin() as conn:
                row = (await conn.execute(_UPDATE, values)).first()
        except (SQLAlchemyError, OSError) as exc:
            _unavailable(exc)
        if row is None:
            raise UserNotFound(username)
        return _user(row)

    async def list(self) -> Sequence[UserInDB]:
        if not self._db.ready:
            await self._db.ensure_schema()
        try:
            async with self._engine.connect() as conn:
                rows = (await conn.execute(_SELECT_ALL)).all()
        except (SQLAlchemyError, OSError) as exc:
            _unavailable(exc)
        return [_user(row) for row in rows]
