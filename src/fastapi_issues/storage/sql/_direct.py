"""Reads, and write transactions, run on the database driver's own connections.

SQLAlchemy stays the way statements are written, types are converted and engines are handed
in; what this skips is its per-call machinery, which cost most of a one-row read (measured
in `bench/`): the greenlet bridge and result wrapping of the async engine, a connection
checkout per statement and, for SQLite, aiosqlite's trip to a thread and back for every
call. Each statement is compiled once per dialect; its parameters and result columns go
through the same type processors SQLAlchemy would use.

- SQLite: reads run on the calling (event loop) thread on a connection of their own, which
  in WAL mode never waits for writers. Write transactions take turns on one writer
  connection: `BEGIN IMMEDIATE` (which may wait for another process's write) and `COMMIT`
  (which fsyncs) run in a thread of their own, so neither blocks the loop; the statements
  between them, which hold the write lock and wait for nothing, run on the loop.
- PostgreSQL with asyncpg: reads, and write transactions, run on asyncpg connections taken
  from the engine's pool and kept for reuse; a read is its own transaction (autocommit).
- Any other driver: `direct_sql` returns None and the stores use the engine.

A write transaction (`DirectSQL.transaction`) gives a `DirectConnection`, whose `execute`
answers what the stores ask of SQLAlchemy's results (`rowcount`, `first`, `all`,
`scalar_one`, `scalars`); a list of parameter sets runs the statement once per set
(executemany). A constraint the database refuses is raised as SQLAlchemy's `IntegrityError`,
as the engine would (the stores catch it); any other failure as `StorageError`, by
`_errors.raise_database_error`.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, NoReturn, Protocol

from sqlalchemy import Dialect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool
from sqlalchemy.sql import Executable

from fastapi_issues.storage.errors import StorageError
from fastapi_issues.storage.sql._errors import database_error, raise_database_error

__all__ = ["DirectConnection", "DirectResult", "DirectSQL", "direct_sql"]

Row = Sequence[Any]
Params = Mapping[str, Any] | Sequence[Mapping[str, Any]]
_Processor = Callable[[Any], Any]
# The most write transactions one SQLite commit holds, so that none waits long for it.
_BATCH_MAX = 64
# Statements compiled and kept: the stores' own are a few dozen; the bound keeps one built
# per call (a rare path) from holding memory for good.
_COMPILED_KEPT = 512


class _Compiled:
    """A statement's SQL for one dialect, its parameters' order and its type processors."""

    __slots__ = (
        "_compiled",
        "_expanding",
        "binds",
        "defaults",
        "names",
        "results",
        "returns_rows",
        "sql",
    )

    def __init__(
        self, statement: Any, keys: Sequence[str], dialect: Dialect, schema_map: Any
    ) -> None:
        # The keys given decide an INSERT's columns and an UPDATE's SET clause.
        compiled = statement.compile(
            dialect=dialect,
            column_keys=list(keys),
            schema_translate_map=schema_map,
            render_schema_translate=bool(schema_map),
        )
        self._compiled = compiled
        self._expanding = any(bind.expanding for bind in compiled.binds.values())
        self.sql: str = compiled.string
        self.names: Sequence[str] = compiled.positiontup or ()
        self.binds: dict[str, _Processor] = {}
        # Values the statement carries itself, such as the 1 of `f(x) == 1`.
        self.defaults = {name: bind.effective_value for name, bind in compiled.binds.items()}
        for name, bind in compiled.binds.items():
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                self.binds[name] = processor
        columns = getattr(statement, "selected_columns", None)
        if columns is None:  # a write; with RETURNING, the columns it returns
            returning = getattr(statement, "_returning", ())
            columns = returning
        self.returns_rows = bool(getattr(statement, "is_select", False) or len(columns))
        # (position, converter) of the result columns that need converting, only.
        self.results: list[tuple[int, _Processor]] = []
        for position, column in enumerate(columns):
            convert = column.type.dialect_impl(dialect).result_processor(dialect, None)
            if convert is not None:
                self.results.append((position, convert))

    def arguments(self, params: Mapping[str, Any]) -> tuple[str, tuple[Any, ...]]:
        params = {**self.defaults, **params}
        if self._expanding:
            state = self._compiled.construct_expanded_state(params)
            # The state's processors are those of the expanded (IN) elements only; the
            # statement's other parameters still need theirs (SQLite's times, for one).
            processors = {**self.binds, **state.processors}
            values = state.parameters
            return state.statement, tuple(
                processors[name](values[name]) if name in processors else values[name]
                for name in state.positiontup or ()
            )
        binds = self.binds
        return self.sql, tuple(
            binds[name](params[name]) if name in binds else params[name] for name in self.names
        )

    def rows(self, raw_rows: Sequence[Row]) -> list[Row]:
        converters = self.results
        if not converters:
            return list(raw_rows)
        rows: list[Row] = []
        for raw in raw_rows:
            row = list(raw)
            for position, convert in converters:
                row[position] = convert(row[position])
            rows.append(row)
        return rows


class DirectResult:
    """What a statement of a write transaction returned: its rows (those a SELECT or a
    RETURNING gives) and how many rows it touched."""

    __slots__ = ("_rows", "rowcount")

    def __init__(self, rows: list[Row], rowcount: int) -> None:
        self._rows = rows
        self.rowcount = rowcount

    def all(self) -> list[Row]:
        return self._rows

    def first(self) -> Row | None:
        return self._rows[0] if self._rows else None

    def scalar(self) -> Any:
        return self._rows[0][0] if self._rows else None

    def scalar_one(self) -> Any:
        if len(self._rows) != 1:
            raise ValueError(f"expected one row, got {len(self._rows)}")
        return self._rows[0][0]

    def scalars(self) -> list[Any]:
        return [row[0] for row in self._rows]


class DirectConnection(Protocol):
    async def execute(self, statement: Executable, params: Params | None = None) -> DirectResult:
        """Run `statement` in the transaction (once per parameter set given in a list)."""
        ...


class DirectSQL(Protocol):
    async def fetch(self, statement: Executable, params: Mapping[str, Any]) -> list[Row]:
        """The rows a read returns."""
        ...

    def transaction(self) -> AbstractAsyncContextManager[DirectConnection]:
        """A write transaction, committed unless the block raises."""
        ...

    async def aclose(self) -> None: ...


async def write(direct: DirectSQL, statement: Executable, params: Mapping[str, Any]) -> int:
    """Run one write as its own transaction; how many rows it touched."""
    try:
        async with direct.transaction() as conn:
            return (await conn.execute(statement, params)).rowcount
    except IntegrityError as exc:
        raise_database_error(exc)


def _refused(exc: BaseException, sql: str, integrity: type[BaseException]) -> NoReturn:
    if isinstance(exc, integrity):
        # As the engine raises it: a store turns it into its own error (a duplicate name).
        raise IntegrityError(sql, None, exc) from exc
    raise_database_error(exc, sql)


def _parameter_sets(
    params: Params | None,
) -> tuple[Mapping[str, Any], list[Mapping[str, Any]] | None]:
    """The parameters that pick the compiled form, and all sets when there are several."""
    if params is None:
        return {}, None
    if isinstance(params, Mapping):
        return params, None
    many = list(params)
    return (many[0] if many else {}), many


class _Statements:
    def __init__(self, dialect: Dialect, schema_map: Any) -> None:
        self._dialect = dialect
        self._schema_map = schema_map
        # Keyed by identity and parameter names: the stores build their statements once.
        self._compiled: dict[tuple[int, tuple[str, ...]], tuple[Any, _Compiled]] = {}

    def get(self, statement: Any, params: Mapping[str, Any]) -> _Compiled:
        key = (id(statement), tuple(params))
        entry = self._compiled.get(key)
        if entry is None or entry[0] is not statement:
            compiled = _Compiled(statement, key[1], self._dialect, self._schema_map)
            if len(self._compiled) >= _COMPILED_KEPT:
                del self._compiled[next(iter(self._compiled))]
            entry = self._compiled[key] = (statement, compiled)
        return entry[1]


class _SQLiteDirect:
    def __init__(
        self,
        database: str,
        *,
        uri: bool,
        set_up: Callable[[sqlite3.Connection], None],
        statements: _Statements,
    ) -> None:
        self._database = database
        self._uri = uri
        self._set_up = set_up
        self._statements = statements
        self._reader: sqlite3.Connection | None = None
        self._writer: sqlite3.Connection | None = None
        self._write_thread = ThreadPoolExecutor(1, thread_name_prefix="fastapi-issues-sqlite")
        # One write transaction at a time on the writer connection; those waiting join the
        # open batch (see `transaction`).
        self._turn = asyncio.Lock()
        self._waiting = 0
        self._batch: asyncio.Future[None] | None = None
        self._members = 0
        self._committing: asyncio.Future[None] | None = None

    def _connect(self) -> sqlite3.Connection:
        # Autocommit: each statement is its own transaction, and a read sees every commit.
        connection = sqlite3.connect(
            self._database, uri=self._uri, isolation_level=None, check_same_thread=False
        )
        self._set_up(connection)
        return connection

    async def fetch(self, statement: Executable, params: Mapping[str, Any]) -> list[Row]:
        compiled = self._statements.get(statement, params)
        sql, arguments = compiled.arguments(params)
        try:
            if self._reader is None:
                self._reader = self._connect()
            raw_rows = self._reader.execute(sql, arguments).fetchall()
        except sqlite3.Error as exc:
            raise_database_error(exc, sql)
        return compiled.rows(raw_rows)

    def _begin(self) -> sqlite3.Connection:
        if self._writer is None:
            self._writer = self._connect()
        # IMMEDIATE takes the write lock now, waiting out another writer (busy timeout),
        # rather than at the first write after reads, where waiting could only deadlock.
        self._writer.execute("BEGIN IMMEDIATE")
        return self._writer

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[DirectConnection]:
        # Group commit: transactions waiting their turn join the open batch, each in a
        # savepoint of its own (so one failing rolls back only its own statements), and
        # the last of a batch commits it: one fsync for all. None returns before the
        # batch holding it is committed; if that commit fails, all of them fail.
        loop = asyncio.get_running_loop()
        self._waiting += 1
        try:
            await self._turn.acquire()
        finally:
            self._waiting -= 1
        try:
            batch = await self._join_batch(loop)
            writer = self._writer
            assert writer is not None
            writer.execute("SAVEPOINT write")
            try:
                yield _SQLiteTransaction(writer, self._statements)
            except BaseException:
                with contextlib.suppress(sqlite3.Error):  # gone with the whole transaction
                    writer.execute("ROLLBACK TO write")
                    writer.execute("RELEASE write")
                raise
            else:
                writer.execute("RELEASE write")
            finally:
                self._members += 1
                if self._waiting == 0 or self._members >= _BATCH_MAX:
                    self._batch = None
                    # Handed to the thread now, ahead of any later batch's BEGIN.
                    commit = loop.run_in_executor(self._write_thread, self._commit_now)
                    self._committing = asyncio.ensure_future(self._settle(batch, commit))
        finally:
            self._turn.release()
        await asyncio.shield(batch)

    async def _join_batch(self, loop: asyncio.AbstractEventLoop) -> asyncio.Future[None]:
        batch = self._batch
        if batch is not None and self._writer is not None and self._writer.in_transaction:
            return batch
        if batch is not None:  # SQLite rolled the whole batch back (a full disk, say)
            batch.set_exception(StorageError("database error: the transaction was rolled back"))
        try:
            await loop.run_in_executor(self._write_thread, self._begin)
        except sqlite3.Error as exc:
            raise_database_error(exc, "BEGIN")
        self._batch, self._members = loop.create_future(), 0
        return self._batch

    @staticmethod
    async def _settle(batch: asyncio.Future[None], commit: asyncio.Future[None]) -> None:
        try:
            await commit
        except sqlite3.Error as exc:
            if not batch.done():
                batch.set_exception(database_error(exc, "COMMIT"))
            return
        if not batch.done():
            batch.set_result(None)

    def _commit_now(self) -> None:
        # In one call, so no other batch's BEGIN comes between a failed COMMIT and its
        # ROLLBACK.
        assert self._writer is not None
        try:
            self._writer.execute("COMMIT")
        except sqlite3.Error:
            with contextlib.suppress(sqlite3.Error):
                self._writer.execute("ROLLBACK")
            raise

    async def aclose(self) -> None:
        if self._committing is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(self._committing)
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        writer = self._writer
        self._writer = None
        if writer is not None:
            await asyncio.get_running_loop().run_in_executor(self._write_thread, writer.close)
        self._write_thread.shutdown(wait=False)


class _SQLiteTransaction:
    # __weakref__: the event log keeps the transactions that recorded events weakly.
    __slots__ = ("__weakref__", "_connection", "_statements")

    def __init__(self, connection: sqlite3.Connection, statements: _Statements) -> None:
        self._connection = connection
        self._statements = statements

    async def execute(self, statement: Executable, params: Params | None = None) -> DirectResult:
        first, many = _parameter_sets(params)
        if many == []:
            return DirectResult([], 0)
        compiled = self._statements.get(statement, first)
        sql, arguments = compiled.arguments(first)
        try:
            if many is not None and len(many) > 1:
                rows = [compiled.arguments(one)[1] for one in many]
                cursor = self._connection.executemany(sql, rows)
                return DirectResult([], cursor.rowcount)
            cursor = self._connection.execute(sql, arguments)
            raw = cursor.fetchall() if compiled.returns_rows else []
        except sqlite3.Error as exc:
            _refused(exc, sql, sqlite3.IntegrityError)
        return DirectResult(compiled.rows(raw), cursor.rowcount)


class _AsyncpgTransaction:
    __slots__ = ("__weakref__", "_connection", "_integrity", "_statements")

    def __init__(
        self, connection: Any, statements: _Statements, integrity: type[BaseException]
    ) -> None:
        self._connection = connection
        self._statements = statements
        self._integrity = integrity

    async def execute(self, statement: Executable, params: Params | None = None) -> DirectResult:
        first, many = _parameter_sets(params)
        if many == []:
            return DirectResult([], 0)
        compiled = self._statements.get(statement, first)
        sql, arguments = compiled.arguments(first)
        try:
            if many is not None and len(many) > 1:
                sets = [compiled.arguments(one)[1] for one in many]
                await self._connection.executemany(sql, sets)
                return DirectResult([], len(sets))
            if compiled.returns_rows:
                raw = await self._connection.fetch(sql, *arguments)
                return DirectResult(compiled.rows(raw), len(raw))
            status: str = await self._connection.execute(sql, *arguments)
        except self._integrity as exc:
            _refused(exc, sql, self._integrity)
        count = status.rsplit(" ", 1)[-1]
        return DirectResult([], int(count) if count.isdigit() else 0)


class _AsyncpgDirect:
    # Connections kept between statements; more are borrowed from the pool when busy.
    _KEEP = 4
    # Dead connections dropped for one statement: the kept ones and more than a pool made
    # from a URL holds (10).
    _DEAD_SKIPPED = _KEEP + 16

    def __init__(self, engine: AsyncEngine, statements: _Statements) -> None:
        import asyncpg  # type: ignore[import-untyped]

        self._engine = engine
        self._statements = statements
        self._idle: list[Any] = []
        self._idle_loop: asyncio.AbstractEventLoop | None = None
        self._capacity = _capacity(engine)
        self._turns: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = None
        self._broken = (asyncpg.InterfaceError, asyncpg.PostgresConnectionError, OSError)
        self._errors = (asyncpg.PostgresError, *self._broken)
        self._integrity: type[BaseException] = asyncpg.IntegrityConstraintViolationError

    async def _run(self, statement: Executable, params: Mapping[str, Any], method: str) -> Any:
        sql, arguments = self._statements.get(statement, params).arguments(params)
        async with self._turn():
            return await self._run_in_turn(sql, arguments, method)

    async def _run_in_turn(self, sql: str, arguments: Sequence[Any], method: str) -> Any:
        pooled = await self._open_connection()
        try:
            result = await getattr(pooled.driver_connection, method)(sql, *arguments)
        except self._broken as exc:
            pooled.invalidate()
            raise_database_error(exc, sql)
        except self._errors as exc:
            self._give_back(pooled)
            raise_database_error(exc, sql)
        except BaseException:  # cancelled mid-statement: the connection's state is unknown
            pooled.invalidate()
            raise
        self._give_back(pooled)
        return result

    async def _open_connection(self) -> Any:
        # A connection cut while it sat kept or in the pool (the database restarted, the
        # network dropped) has seen its socket close, and asyncpg knows it without a round
        # trip. Used, it would fail one more request after the database is back, once per
        # dead connection: they are dropped here instead. The bound only stops a server that
        # closes every new connection from keeping us here; then the statement fails.
        for _ in range(self._DEAD_SKIPPED):
            pooled = await self._checkout()
            if not pooled.driver_connection.is_closed():
                return pooled
            pooled.invalidate()
        return await self._checkout()

    async def _checkout(self) -> Any:
        loop = asyncio.get_running_loop()
        if self._idle_loop is not loop:
            # Kept connections belong to the loop that made them (a store may outlive a
            # test client's loop); that loop may be gone, so they are let go, not closed.
            self._idle, self._idle_loop = [], loop
        try:
            return self._idle.pop() if self._idle else await self._engine.raw_connection()
        except Exception as exc:
            raise_database_error(exc)

    def _give_back(self, pooled: Any) -> None:
        if len(self._idle) < self._KEEP:
            self._idle.append(pooled)
        else:
            pooled.close()

    @asynccontextmanager
    async def _turn(self) -> AsyncIterator[None]:
        """Wait for a connection's turn, first come first served.

        Without it, a connection given back goes to whoever asks next (a kept one at once,
        a pooled one to a newcomer before the woken waiter runs): under a flood of requests
        a caller that once found every connection busy (the webhook worker among them)
        waited as long as the flood lasted. At most the pool's capacity hold a turn, so the
        pool itself never makes them wait; asyncio's semaphore queues the rest fairly."""
        if self._capacity is None:
            yield
            return
        loop = asyncio.get_running_loop()
        if self._turns is None or self._turns[0] is not loop:
            self._turns = (loop, asyncio.Semaphore(self._capacity))
        async with self._turns[1]:
            yield

    async def fetch(self, statement: Executable, params: Mapping[str, Any]) -> list[Row]:
        raw_rows = await self._run(statement, params, "fetch")
        return self._statements.get(statement, params).rows(raw_rows)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[DirectConnection]:
        async with self._turn(), self._transaction_in_turn() as connection:
            yield connection

    @asynccontextmanager
    async def _transaction_in_turn(self) -> AsyncIterator[DirectConnection]:
        pooled = await self._open_connection()
        connection = pooled.driver_connection
        try:
            transaction = connection.transaction()
            await transaction.start()
        except self._broken as exc:
            pooled.invalidate()
            raise_database_error(exc, "BEGIN")
        except BaseException:
            pooled.invalidate()
            raise
        try:
            yield _AsyncpgTransaction(connection, self._statements, self._integrity)
            await transaction.commit()
        except self._broken as exc:
            pooled.invalidate()
            raise_database_error(exc)
        except self._errors as exc:
            await self._roll_back(pooled, transaction)
            raise_database_error(exc)
        except Exception:  # the store's own (a duplicate it refuses): rolled back
            await self._roll_back(pooled, transaction)
            raise
        except BaseException:  # cancelled mid-statement: the connection's state is unknown
            pooled.invalidate()
            raise
        self._give_back(pooled)

    async def _roll_back(self, pooled: Any, transaction: Any) -> None:
        # Given back only once rolled back; a connection that cannot be is given up.
        try:
            await transaction.rollback()
        except BaseException:
            pooled.invalidate()
            return
        self._give_back(pooled)

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []
        for pooled in idle:
            pooled.close()


def _capacity(engine: AsyncEngine) -> int | None:
    """How many connections `engine`'s pool lends at once; None when unbounded or unknown."""
    pool = engine.pool
    if not isinstance(pool, QueuePool):
        return None
    overflow: int = getattr(pool, "_max_overflow", 0)
    return None if overflow < 0 else pool.size() + overflow


def direct_sql(
    engine: AsyncEngine, set_up_sqlite: Callable[[sqlite3.Connection], None]
) -> DirectSQL | None:
    """The direct runner for `engine`'s database, or None when its driver has none."""
    dialect = engine.dialect
    statements = _Statements(dialect, engine.get_execution_options().get("schema_translate_map"))
    if dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
        uri = str(engine.url.query.get("uri", "")).lower() in ("true", "1")
        return _SQLiteDirect(
            str(engine.url.database), uri=uri, set_up=set_up_sqlite, statements=statements
        )
    if dialect.name == "postgresql" and dialect.driver == "asyncpg":
        return _AsyncpgDirect(engine, statements)
    return None
