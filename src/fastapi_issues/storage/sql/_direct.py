"""Single statements run on the database driver's own connections.

SQLAlchemy stays the way statements are written, types are converted and engines are handed
in; what this skips is its per-call machinery, which cost most of a one-row read (measured
in `bench/`): the greenlet bridge and result wrapping of the async engine, a connection
checkout per statement and, for SQLite, aiosqlite's trip to a thread and back for every
call. Each statement is compiled once per dialect; its parameters and result columns go
through the same type processors SQLAlchemy would use.

- SQLite: reads run on the calling (event loop) thread on a connection of their own, which
  in WAL mode never waits for writers; writes run one at a time in a thread of their own,
  so a commit's fsync never blocks the loop.
- PostgreSQL with asyncpg: reads and writes run on asyncpg connections taken from the
  engine's pool and kept for reuse, in autocommit.
- Any other driver: `direct_sql` returns None and the stores use the engine.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from sqlalchemy import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql import Executable

from fastapi_issues.storage.sql._errors import raise_database_error

__all__ = ["DirectSQL", "direct_sql"]

Row = Sequence[Any]
_Processor = Callable[[Any], Any]


class _Compiled:
    """A statement's SQL for one dialect, its parameters' order and its type processors."""

    __slots__ = ("_compiled", "_expanding", "binds", "defaults", "names", "results", "sql")

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


class DirectSQL(Protocol):
    async def fetch(self, statement: Executable, params: Mapping[str, Any]) -> list[Row]:
        """The rows a read returns."""
        ...

    async def write(self, statement: Executable, params: Mapping[str, Any]) -> int:
        """Run one write as its own transaction; how many rows it touched."""
        ...

    async def aclose(self) -> None: ...


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

    async def write(self, statement: Executable, params: Mapping[str, Any]) -> int:
        sql, arguments = self._statements.get(statement, params).arguments(params)

        def run() -> int:
            if self._writer is None:
                self._writer = self._connect()
            return self._writer.execute(sql, arguments).rowcount

        try:
            return await asyncio.get_running_loop().run_in_executor(self._write_thread, run)
        except sqlite3.Error as exc:
            raise_database_error(exc, sql)

    async def aclose(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        writer = self._writer
        self._writer = None
        if writer is not None:
            await asyncio.get_running_loop().run_in_executor(self._write_thread, writer.close)
        self._write_thread.shutdown(wait=False)


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
        self._broken = (asyncpg.InterfaceError, asyncpg.PostgresConnectionError, OSError)
        self._errors = (asyncpg.PostgresError, *self._broken)

    async def _run(self, statement: Executable, params: Mapping[str, Any], method: str) -> Any:
        sql, arguments = self._statements.get(statement, params).arguments(params)
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
        try:
            return self._idle.pop() if self._idle else await self._engine.raw_connection()
        except Exception as exc:
            raise_database_error(exc)

    def _give_back(self, pooled: Any) -> None:
        if len(self._idle) < self._KEEP:
            self._idle.append(pooled)
        else:
            pooled.close()

    async def fetch(self, statement: Executable, params: Mapping[str, Any]) -> list[Row]:
        raw_rows = await self._run(statement, params, "fetch")
        return self._statements.get(statement, params).rows(raw_rows)

    async def write(self, statement: Executable, params: Mapping[str, Any]) -> int:
        status: str = await self._run(statement, params, "execute")
        count = status.rsplit(" ", 1)[-1]
        return int(count) if count.isdigit() else 0

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []
        for pooled in idle:
            pooled.close()


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
