"""Helpers of the live event tests: a real uvicorn server in the test's own event loop, and
clients reading Server-Sent Events and WebSocket messages with bounded waits."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from websockets.asyncio.client import ClientConnection, connect

from tests.servers import free_port

WAIT = 10.0
"""The longest any single wait in these tests may take before it fails."""


class _QuietServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # The test runner owns the signals; the server is stopped through should_exit.
        yield


@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[str]:
    """Serve `app` with uvicorn on 127.0.0.1 in this event loop; yield its base URL."""
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
        timeout_graceful_shutdown=2,
    )
    server = _QuietServer(config)
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(WAIT):
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        async with asyncio.timeout(WAIT):
            await task


async def eventually(check: Callable[[], bool | Awaitable[bool]]) -> None:
    """Wait (at most `WAIT` seconds) until `check()` is true: for states with no event to
    wait on, such as another task's progress."""
    async with asyncio.timeout(WAIT):
        while True:
            done = check()
            if not isinstance(done, bool):
                done = await done
            if done:
                return
            await asyncio.sleep(0.005)


@dataclass
class SSE:
    """One server-sent event as a client sees it."""

    event: str | None = None
    id: str | None = None
    data: list[str] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)

    def json(self) -> Any:
        return json.loads("\n".join(self.data))


class SSEReader:
    """Reads an open `text/event-stream` response one event at a time."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.aiter_lines()

    async def next(self, *, comments: bool = False) -> SSE | None:
        """The next event (or, with `comments`, comment-only block); None at the end."""
        async with asyncio.timeout(WAIT):
            current = SSE()
            async for line in self._lines:
                if line == "":
                    if current.data or current.event or (comments and current.comments):
                        return current
                    current = SSE()
                    continue
                name, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if name == "":
                    current.comments.append(value)
                elif name == "data":
                    current.data.append(value)
                elif name in ("event", "id"):
                    setattr(current, name, value)
            return None

    async def events(self, count: int) -> list[SSE]:
        found: list[SSE] = []
        for _ in range(count):
            event = await self.next()
            assert event is not None, f"stream ended after {len(found)} events"
            found.append(event)
        return found


@asynccontextmanager
async def sse(
    base: str, path: str, *, headers: dict[str, str] | None = None, **params: Any
) -> AsyncIterator[SSEReader]:
    """Open an SSE stream and yield its reader once the server said `: subscribed` (the
    response must be 200)."""
    async with (
        httpx.AsyncClient(base_url=f"http://{base}", timeout=WAIT) as client,
        client.stream("GET", path, headers=headers, params=params) as response,
    ):
        assert response.status_code == 200, await response.aread()
        reader = SSEReader(response)
        first = await reader.next(comments=True)
        assert first is not None
        assert first.comments == ["subscribed"]
        yield reader


@asynccontextmanager
async def websocket(base: str, path: str, first: dict[str, Any]) -> AsyncIterator[ClientConnection]:
    """Open the WebSocket and send `first` as its first message."""
    async with asyncio.timeout(WAIT):
        connection = await connect(f"ws://{base}{path}")
    try:
        await connection.send(json.dumps(first))
        yield connection
    finally:
        async with asyncio.timeout(WAIT):
            await connection.close()


async def receive_json(connection: ClientConnection, count: int) -> list[dict[str, Any]]:
    """The next `count` messages, as JSON."""
    found = []
    async with asyncio.timeout(WAIT):
        for _ in range(count):
            found.append(json.loads(await connection.recv()))
    return found
