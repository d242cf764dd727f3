"""A TCP forwarder a test controls, to put faults between an app and its database.

It listens on 127.0.0.1 and copies bytes both ways to one target. A test can cut every live
connection (both ends aborted, as when a network link or the database server dies), stop
accepting (clients get "connection refused" at once, as from a database that is down), stall
(new connections are taken but get no answer, as when packets to the server are lost, until
the proxy forwards again), and accept again on the same port.
"""

from __future__ import annotations

import asyncio
import contextlib

_CHUNK = 65536


class TCPProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._forwarding = asyncio.Event()
        self._forwarding.set()

    @property
    def accepting(self) -> bool:
        return self._server is not None

    async def accept(self) -> None:
        """Listen (again): on a free port the first time, on the same one after. Stalled
        connections go through now, as a client's retried packets do once a network heals."""
        self._forwarding.set()
        if self._server is not None:
            return
        # Listening sockets allow reuse of the address on POSIX, so the port is ours again
        # even with connections of the last round in TIME_WAIT.
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def refuse(self) -> None:
        """Stop listening: new connections are refused; live ones carry on."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
            await server.wait_closed()

    def stall(self) -> None:
        """Keep listening, but hold new connections silent until `accept`."""
        self._forwarding.clear()

    def cut(self) -> int:
        """Abort every live connection, on both sides; how many sockets were cut."""
        writers, self._writers = self._writers, set()
        for writer in writers:
            writer.transport.abort()
        return len(writers)

    async def aclose(self) -> None:
        await self.refuse()
        self.cut()
        self._forwarding.set()  # held connections, all cut by now, end
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _serve(
        self, client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter
    ) -> None:
        self._writers.add(client_out)
        await self._forwarding.wait()
        if client_out.transport.is_closing():  # cut, or given up by the client, meanwhile
            self._writers.discard(client_out)
            return
        try:
            server_in, server_out = await asyncio.open_connection(*self.target)
        except OSError:
            self._writers.discard(client_out)
            client_out.transport.abort()
            return
        self._writers |= {client_out, server_out}
        pumps = [
            asyncio.create_task(self._pump(client_in, server_out)),
            asyncio.create_task(self._pump(server_in, client_out)),
        ]
        self._tasks.update(pumps)
        try:
            await asyncio.wait(pumps)
        finally:
            self._tasks.difference_update(pumps)
            for writer in (client_out, server_out):
                self._writers.discard(writer)
                writer.transport.abort()

    @staticmethod
    async def _pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        # Either side closing or failing ends this direction; `_serve` then aborts both.
        with contextlib.suppress(OSError):
            while data := await source.read(_CHUNK):
                sink.write(data)
                await sink.drain()
        sink.transport.abort()
