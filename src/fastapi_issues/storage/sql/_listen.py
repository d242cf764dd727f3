"""How a SQL store's live readers learn of events written by other processes
(`EventStore.wait_for_events`); this process's own writes wake them at once (`_events.py`).

SQLite: `PRAGMA data_version`, which changes when another connection commits, asked on one
connection of the store's own (opened on the first wait, closed by `aclose`), every 50 ms,
by one waiter for all (`EventWake`). It reads no table.

PostgreSQL: each write's transaction sends a NOTIFY on the channel of the store's schema
(`wake_channel`; `_events.py` folds it into the statement that numbers the events), which
PostgreSQL delivers at the commit. One connection per store, taken from the engine and
detached from its pool, LISTENs to it. When that connection drops, it is opened again,
with a growing pause between failed attempts; waiters wake both when it drops and when it
is back, so that readers read the log again for what they missed. While it is not
listening, waiters ask for the newest id every 50 ms instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from fastapi_issues.storage._wake import EventWake

__all__ = ["EventWatch", "listener_name", "wake_channel"]

_log = logging.getLogger("fastapi_issues")
_CHANNEL = "fastapi_issues_events"
_NAME_BYTES = 63  # PostgreSQL's longest identifier
_FIRST_PAUSE = 0.05
_LONGEST_PAUSE = 5.0
_STEADY = 5.0  # a connection up this long dropped by chance: reconnect without a pause
_PING_EVERY = 30.0  # a connection lost without a word shows up at the next ping


def wake_channel(schema: str | None) -> str:
    """The NOTIFY channel of a store's tables: one per schema (the default schema's is
    shared by every database on the server: a wake too many, never one too few)."""
    if schema is None:
        return _CHANNEL
    channel = f"{_CHANNEL}.{schema}"
    if len(channel.encode()) > _NAME_BYTES:
        channel = f"{_CHANNEL}.{hashlib.sha256(schema.encode()).hexdigest()[:32]}"
    return channel


def listener_name(schema: str | None) -> str:
    """The `application_name` of a store's listening connection (`pg_stat_activity`)."""
    return f"fastapi-issues {wake_channel(schema)}".encode()[:_NAME_BYTES].decode(errors="ignore")


async def _detached(engine: AsyncEngine) -> Any:
    """A driver connection made as the engine makes them, but no longer the pool's."""
    conn = await engine.connect()
    try:
        raw = await conn.get_raw_connection()
        driver = raw.driver_connection  # the pool's record of it is gone once detached
        raw.detach()
        return driver
    except BaseException:
        await conn.close()
        raise


class EventWatch:
    """`wait_for_events` of one SQL store (see the module's docstring)."""

    def __init__(
        self,
        engine: AsyncEngine,
        schema: str | None,
        wake: EventWake,
        last_event_id: Callable[[], Awaitable[int]],
    ) -> None:
        self._engine = engine
        self._wake = wake
        self._last_event_id = last_event_id
        self._dialect = engine.dialect.name
        self._listener = _Listener(engine, schema, wake)
        self._version: Any = None  # SQLite: the connection asked for `data_version`
        self._last_version: object = None
        self._opening = asyncio.Lock()
        self._seen: int | None = None

    async def wait(self, after: int) -> None:
        """Return once an event after `after` may be visible; see `EventStore`."""
        if self._dialect == "postgresql":
            first = not self._listener.tried
            if await self._listener.start():
                await self._watched(first, after, None)
                return
        elif self._dialect == "sqlite":
            first = self._version is None
            if await self._open_version():
                await self._watched(first, after, self._version_changed)
                return
        await self._wake.wait(lambda: after, after, changed=lambda: self._polled(after))

    async def _watched(
        self, first: bool, after: int, changed: Callable[[], Awaitable[bool]] | None
    ) -> None:
        # What committed before the watch began is read once, by those who waited for it.
        if first and await self._last_event_id() > after:
            return
        await self._wake.wait(lambda: after, after, changed=changed)

    async def _open_version(self) -> bool:
        if self._version is not None:
            return True
        async with self._opening:
            if self._version is None:
                try:
                    connection = await _detached(self._engine)
                    [(version,)] = await connection.execute_fetchall("PRAGMA data_version")
                except Exception as exc:  # polling is the fallback
                    _log.warning("data_version cannot be watched (%s): polling instead", exc)
                    return False
                self._version, self._last_version = connection, version
        return True

    async def _version_changed(self) -> bool:
        connection = self._version
        if connection is None:  # closed meanwhile
            return True
        try:
            [(version,)] = await connection.execute_fetchall("PRAGMA data_version")
        except Exception as exc:  # a new one is opened by the next wait
            _log.warning("data_version could not be read (%s)", exc)
            await self._close_version()
            return True
        if version == self._last_version:
            return False
        self._last_version = version
        return True

    async def _polled(self, after: int) -> bool:
        """The fallback check: whether the newest id moved since last asked."""
        newest = await self._last_event_id()
        seen, self._seen = self._seen, newest
        return newest > after if seen is None else newest != seen

    async def _close_version(self) -> None:
        connection, self._version = self._version, None
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.close()

    async def aclose(self) -> None:
        """Stop listening and close the watching connection."""
        await self._listener.aclose()
        await self._close_version()


class _Listener:
    """PostgreSQL: one connection LISTENing to the store's channel, kept open."""

    def __init__(self, engine: AsyncEngine, schema: str | None, wake: EventWake) -> None:
        self._engine = engine
        self._wake = wake
        self._channel = wake_channel(schema)
        self._name = listener_name(schema)
        self._task: asyncio.Task[None] | None = None
        self._first_try = asyncio.Event()
        self._closed = False
        self.listening = False

    @property
    def tried(self) -> bool:
        """Whether the first attempt to listen is over."""
        return self._first_try.is_set()

    async def start(self) -> bool:
        """Start listening if not yet (waiting for the first attempt); whether it is."""
        if self._closed:
            return False
        task = self._task
        if task is not None and task.get_loop() is not asyncio.get_running_loop():
            # The loop it ran in is gone (a store may outlive a test client's loop).
            self._task, self.listening, self._first_try = None, False, asyncio.Event()
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"LISTEN {self._channel}")
        await self._first_try.wait()
        return self.listening

    async def _run(self) -> None:
        pause = _FIRST_PAUSE
        while True:
            try:
                connection = await _detached(self._engine)
            except Exception as exc:  # tried again after a pause
                _log.warning("cannot LISTEN for events (%s): retrying in %.2f s", exc, pause)
                self._first_try.set()
                await asyncio.sleep(pause)
                pause = min(pause * 2, _LONGEST_PAUSE)
                continue
            opened = asyncio.get_running_loop().time()
            try:
                await self._listen(connection)
            except Exception as exc:  # the connection went: open another
                _log.warning("LISTEN for events stopped (%s): reconnecting", exc)
            finally:
                was_listening, self.listening = self.listening, False
                self._first_try.set()
                with contextlib.suppress(Exception):
                    await connection.close(timeout=1)
            if was_listening:
                # Readers fall back to polling meanwhile; the log holds what they missed.
                self._wake.written()
                if asyncio.get_running_loop().time() - opened > _STEADY:
                    pause = _FIRST_PAUSE
                    continue  # at once: it was up a while, so the server likely is
            await asyncio.sleep(pause)
            pause = min(pause * 2, _LONGEST_PAUSE)

    async def _listen(self, connection: Any) -> None:
        dropped = asyncio.Event()
        connection.add_termination_listener(lambda _: dropped.set())
        await connection.execute("SELECT set_config('application_name', $1, false)", self._name)
        await connection.add_listener(self._channel, self._notified)
        first = not self._first_try.is_set()
        self.listening = True
        self._first_try.set()
        if not first:
            self._wake.written()  # back: readers read the log again for what they missed
        while not dropped.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(_PING_EVERY):
                    await dropped.wait()
            if not dropped.is_set():
                await connection.fetchval("SELECT 1", timeout=_PING_EVERY)

    def _notified(self, *_: object) -> None:
        self._wake.written()

    async def aclose(self) -> None:
        """Stop listening and close the connection; the task is awaited."""
        self._closed = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
