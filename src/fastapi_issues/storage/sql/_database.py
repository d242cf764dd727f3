"""One SQL database as the SQL stores see it: its engine, its set-up, and its tables'
migration to this release's revision."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Protocol, TypeVar

from sqlalchemy import Connection, Executable, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from fastapi_issues._usernames import normalize_username
from fastapi_issues.storage.errors import StorageError
from fastapi_issues.storage.sql._direct import DirectSQL, Row, direct_sql
from fastapi_issues.storage.sql._errors import (
    DATABASE_ERRORS,
    describe_database_error,
    raise_database_error,
)
from fastapi_issues.storage.sql._migrations import require_current

T = TypeVar("T")

SQLITE_BUSY_TIMEOUT_MS = 10_000
"""How long a SQLite connection waits for another process's write before it gives up."""

SQLITE_CONTAINS_FUNCTION = "fastapi_issues_contains"
"""`fastapi_issues_contains(needle, title, description)`: the text filter on SQLite, with
`needle` already lower-cased."""

POSTGRES_POOL_SIZE = 10
"""Connections per PostgreSQL engine made from a URL (per process); pass an `AsyncEngine` to
choose otherwise."""

POSTGRES_CONNECT_TIMEOUT = 5.0
"""Seconds a new PostgreSQL connection may take (TCP, TLS, log-in) before the statement that
needed it fails, answering 503. asyncpg's own default is 60: with the server's packets
dropped (not refused), every request needing a connection waited that long for its 503,
holding a pool slot meanwhile."""

# Any constant will do, as long as every process uses the same one.
_SCHEMA_LOCK_KEY = 0x66617069_73737565  # "fapissue"


SQLITE_USERNAME_KEY_FUNCTION = "fastapi_issues_username_key"
"""`fastapi_issues_username_key(username)`: the name as usernames are compared (NFKC,
case-folded), computed by Python, so SQLite agrees with the other stores exactly."""


def _contains_folded(needle: str, title: str, description: str) -> bool:
    return needle in title.lower() or needle in description.lower()


def _set_up_sqlite_connection(dbapi_connection: Any, connection_record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        # The switch to WAL is made once per file, by `create_schema`. FULL syncs the log on
        # every commit, so an acknowledged write survives a crash of the machine, not just of us.
        cursor.execute("PRAGMA synchronous = FULL")
        # SQLite enforces foreign keys (and their ON DELETE CASCADE) only when asked to.
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()
    # SQLite's lower() and LIKE fold ASCII only; the other stores fold as Python does. One
    # call per row doing just that is also faster than lower() twice and two LIKEs.
    dbapi_connection.create_function(
        SQLITE_CONTAINS_FUNCTION, 3, _contains_folded, deterministic=True
    )
    dbapi_connection.create_function(
        SQLITE_USERNAME_KEY_FUNCTION, 1, normalize_username, deterministic=True
    )


class _CallNamesOnly(logging.Filter):
    """aiosqlite logs every call it makes at DEBUG, with its arguments: each statement's
    parameters, password hashes among them. Its records keep the call's name only."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            call = record.args[0]
            if isinstance(call, functools.partial):
                name = getattr(call.func, "__name__", "a call")
                record.args = (name, *record.args[1:])
        return True


def _hide_aiosqlite_arguments() -> None:
    logger = logging.getLogger("aiosqlite")
    if not any(isinstance(known, _CallNamesOnly) for known in logger.filters):
        logger.addFilter(_CallNamesOnly())


def async_url(url: str | URL) -> URL:
    """`url` with the async driver filled in: aiosqlite for SQLite, asyncpg for PostgreSQL."""
    if isinstance(url, str) and url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    parsed = make_url(url)
    if parsed.drivername == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite")
    if parsed.drivername == "postgresql":
        return parsed.set(drivername="postgresql+asyncpg")
    return parsed


class SQLConnection(Protocol):
    """What a write transaction's statements run on: SQLAlchemy's `AsyncConnection`, or
    the direct path's connection (`_direct.DirectConnection`), which answers the same
    questions of its results."""

    async def execute(self, statement: Executable, params: Any = None, /) -> Any: ...


class SQLDatabase:
    """An engine, set up for the stores, the migration of one store's tables, and the ways
    the stores' parts run statements on it: `fetch` for one read and `writing` for a write
    transaction (the direct path where the driver has one), `transaction` and `reading` for
    the rest.

    Engines made here belong to this object and are disposed by `aclose`; an engine passed in
    belongs to the caller, who disposes it.
    """

    def __init__(
        self,
        url_or_engine: str | URL | AsyncEngine,
        *,
        branch: str,
        schema: str | None = None,
        auto_upgrade: bool | None = None,
    ) -> None:
        if isinstance(url_or_engine, AsyncEngine):
            engine = url_or_engine
            self._owns_engine = False
        else:
            url = async_url(url_or_engine)
            # Parameters hold what is written (password hashes among it): SQLAlchemy leaves
            # them out of its logging and its exception text.
            options: dict[str, Any] = {"hide_parameters": True}
            if url.get_backend_name() == "postgresql":
                # A fixed set of connections: requests beyond it wait their turn. With
                # overflow connections, every burst opened and closed connections per request
                # (the benchmark's GET one ran at 0.6x of this).
                options |= {
                    "pool_size": POSTGRES_POOL_SIZE,
                    "max_overflow": 0,
                    "connect_args": {"timeout": POSTGRES_CONNECT_TIMEOUT},
                }
            engine = create_async_engine(url, **options)
            self._owns_engine = True
        self._base_engine = engine
        self.dialect = engine.dialect.name
        if self.dialect == "sqlite":
            if engine.url.database in (None, "", ":memory:"):
                raise ValueError(
                    "an in-memory SQLite database is private to one connection; give a file "
                    "path, or use an in-memory store"
                )
            if self._owns_engine and not engine.url.query.get("uri"):
                # Like the JSON store's file, the database may go in a folder not made yet.
                with contextlib.suppress(OSError):
                    Path(engine.url.database).parent.mkdir(parents=True, exist_ok=True)
            _hide_aiosqlite_arguments()
            if not event.contains(engine.sync_engine, "connect", _set_up_sqlite_connection):
                event.listen(engine.sync_engine, "connect", _set_up_sqlite_connection)
        if schema is not None:
            engine = engine.execution_options(schema_translate_map={None: schema})
        self.engine = engine
        """For work that needs a transaction of several statements."""
        # One statement is its own transaction, and PostgreSQL needs no BEGIN and COMMIT
        # (or ROLLBACK) round trips around it. SQLite's driver only begins before writes
        # and would pay to switch modes, so it keeps the engine as it is.
        self.statement_engine = (
            engine.execution_options(isolation_level="AUTOCOMMIT")
            if self.dialect == "postgresql"
            else engine
        )
        """For single statements: each is atomic on its own."""
        self.schema = schema
        self.branch = branch
        """The migration branch of this store's tables (`issues`, `users`)."""
        self.auto_upgrade = self.dialect == "sqlite" if auto_upgrade is None else auto_upgrade
        """Whether start-up upgrades an older database instead of refusing it."""
        # PostgreSQL text cannot hold NUL, so no stored value has one; asked for one, the
        # answer is "none", not a driver error.
        self.nul_is_unstorable = self.dialect == "postgresql"
        self.ready = False
        self.committed: Callable[[SQLConnection], None] | None = None
        """Told of each `transaction`'s or `writing`'s connection once it has committed
        (the event log wakes live readers with it)."""
        self._schema_lock = asyncio.Lock()
        self._direct: DirectSQL | None = direct_sql(
            engine, lambda connection: _set_up_sqlite_connection(connection, None)
        )

    def unstorable(self, *values: str) -> bool:
        """Whether any of `values` is one this database cannot store, so cannot hold."""
        return self.nul_is_unstorable and any("\x00" in value for value in values)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """A connection in a transaction, committed unless the block raises."""
        if not self.ready:
            await self.ensure_schema()
        try:
            async with self.engine.begin() as conn:
                yield conn
        except DATABASE_ERRORS as exc:
            raise_database_error(exc)
        if self.committed is not None:
            self.committed(conn)

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reads, each statement on its own."""
        if not self.ready:
            await self.ensure_schema()
        try:
            async with self.statement_engine.connect() as conn:
                yield conn
        except DATABASE_ERRORS as exc:
            raise_database_error(exc)

    def insert_ignoring(self) -> Any:
        """This dialect's `insert`, the one with `on_conflict_do_nothing`."""
        if self.dialect == "postgresql":
            return postgresql.insert
        if self.dialect == "sqlite":
            return sqlite.insert
        raise StorageError(
            f"importing into {self.dialect} is not supported"
        )  # pragma: no cover - only SQLite and PostgreSQL are supported

    async def fetch(self, statement: Executable, params: Mapping[str, Any]) -> list[Row]:
        """The rows one read returns. `StorageError` when the database fails."""
        if not self.ready:
            await self.ensure_schema()
        if self._direct is not None:
            return await self._direct.fetch(statement, params)
        try:
            async with self.statement_engine.connect() as conn:
                return list((await conn.execute(statement, params)).all())
        except DATABASE_ERRORS as exc:
            raise_database_error(exc)

    @asynccontextmanager
    async def writing(self) -> AsyncIterator[SQLConnection]:
        """A write transaction, committed unless the block raises: on the driver's own
        connection where there is a direct path (fewer layers per statement, each statement
        compiled once), else `transaction()`. A constraint the database refuses is raised
        as SQLAlchemy's `IntegrityError` either way; `StorageError` when the database fails.
        """
        if self._direct is None:
            async with self.transaction() as conn:
                yield conn
            return
        if not self.ready:
            await self.ensure_schema()
        try:
            async with self._direct.transaction() as direct:
                yield direct
        except DATABASE_ERRORS as exc:
            raise_database_error(exc)
        if self.committed is not None:
            self.committed(direct)

    async def ensure_schema(self) -> None:
        """Check (and create or upgrade) the tables once per process, on first use."""
        async with self._schema_lock:
            if not self.ready:
                await self.create_schema()

    async def create_schema(self) -> None:
        """Bring this store's branch of the tables to this release's revision, or refuse.

        A new database (or one without this branch) gets its tables, one made by 0.1.0 is
        stamped as its first revision, an older one is upgraded only with `auto_upgrade`,
        and a newer one is refused. Safe to run from many processes at once: they take
        turns, and the first does the work in one transaction.
        """
        where = self.where()
        await self.run_locked(
            lambda conn: require_current(
                conn,
                self.branch,
                schema=self.schema,
                auto_upgrade=self.auto_upgrade,
                where=where,
            )
        )
        self.ready = True

    def where(self) -> str:
        """The database's URL, without its password: for messages."""
        return self._base_engine.url.render_as_string(hide_password=True)

    async def run_locked(self, work: Callable[[Connection], T]) -> T:
        """`work(connection)` under the schema lock, in one transaction committed when it
        returns: processes starting together take turns, and a process killed meanwhile
        leaves the database as it was.

        `StorageError` when the database cannot be reached or fails.
        """
        try:
            if self.dialect == "sqlite":
                await self._while_locked(self._use_write_ahead_log)
            return await self._while_locked(lambda: self._run_in_lock(work))
        except SQLAlchemyError as exc:
            raise StorageError(
                f"cannot create the tables: {describe_database_error(exc)}"
            ) from None
        except OSError as exc:
            raise StorageError(f"cannot reach the database: {exc}") from exc

    async def _run_in_lock(self, work: Callable[[Connection], T]) -> T:
        async with self.engine.connect() as conn:
            if self.dialect == "sqlite":
                # Takes the write lock now (waiting for it), not on the first CREATE
                # after reads, when a wait could only end in a deadlock error.
                await conn.exec_driver_sql("BEGIN IMMEDIATE")
            elif self.dialect == "postgresql":
                await conn.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK_KEY}
                )
            result = await conn.run_sync(work)
            await conn.commit()
            return result

    async def _use_write_ahead_log(self) -> None:
        # WAL lets readers work while one process writes, and it is a property of the file:
        # once switched, every later connection uses it.
        async with self.engine.connect() as conn:
            await conn.exec_driver_sql("PRAGMA journal_mode = WAL")

    async def _while_locked(self, attempt: Callable[[], Awaitable[T]]) -> T:
        """`attempt()`, tried again while SQLite answers "locked", up to the busy timeout.

        While new connections switch a file to WAL, or one rebuilds its WAL index, SQLite
        answers "locked" at once (even to `BEGIN IMMEDIATE`) instead of waiting out the busy
        timeout, so the waiting is done here, without holding up the event loop. Each
        attempt is a whole transaction, rolled back when it fails.
        """
        if self.dialect != "sqlite":
            return await attempt()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SQLITE_BUSY_TIMEOUT_MS / 1000
        while True:
            try:
                return await attempt()
            except OperationalError as exc:
                if "locked" not in str(exc) or loop.time() >= deadline:
                    raise
                await asyncio.sleep(0.01)

    async def aclose(self) -> None:
        """Close the engine's connections, if this object made the engine."""
        if self._direct is not None:
            await self._direct.aclose()
        if self._owns_engine:
            await self._base_engine.dispose()


class SQLStoreBase:
    """What every SQL store offers besides its protocol: set-up, closing, a lifespan."""

    _db: SQLDatabase

    @property
    def engine(self) -> AsyncEngine:
        """The engine this store runs its queries on."""
        return self._db.engine

    async def create_schema(self) -> None:
        """Bring this store's tables to this release's revision (Alembic): create them in a
        new database, stamp one made by 0.1.0, upgrade an older one if the store was made
        with `auto_upgrade`.

        Otherwise done on first use. Safe to run from many processes at once. Raises
        `StorageError` when the database cannot be reached, is older than this release
        (without `auto_upgrade`: the message names `fastapi-issues db upgrade`) or newer,
        or holds a table of the same name that fastapi-issues did not make.
        """
        await self._db.create_schema()

    async def open(self) -> None:
        """`create_schema()`, for `StoreLifecycle`."""
        await self.create_schema()

    async def aclose(self) -> None:
        """Close the database connections (unless the engine was passed in)."""
        await self._db.aclose()

    @asynccontextmanager
    async def lifespan(self, app: object = None) -> AsyncIterator[None]:
        """Create the schema on enter and close the connections on exit.

        Use as `FastAPI(lifespan=store.lifespan)` or `async with store.lifespan(): ...`.
        """
        await self.create_schema()
        try:
            yield
        finally:
            await self.aclose()
