"""A real webhook receiver on 127.0.0.1 for the delivery tests: a tiny HTTP/1.1 server in
its own thread (so it serves test processes and worker processes alike) that records each
request, checks its signature, and answers as the test's plan says."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from fastapi_issues.webhooks import verify_signature


@dataclass(frozen=True)
class Received:
    """One request as it arrived."""

    delivery: str
    event: str
    hook_id: str
    body: bytes
    signed: bool
    headers: dict[str, str]
    attempt: int  # the how-manieth request with this delivery id


@dataclass(frozen=True)
class Answer:
    status: int = 200
    body: bytes = b"thanks"
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    stream_bytes: int = 0  # beyond `body`: a huge body, sent 64 KiB at a time


Plan = Callable[[Received], Answer]


def always_ok(_: Received) -> Answer:
    return Answer()


def failing_first(n: int) -> Plan:
    """500 to the first `n` attempts of each delivery, then 200."""
    return lambda got: Answer(500, b"not yet") if got.attempt <= n else Answer()


class Receiver:
    """`with Receiver(secret) as receiver:` serves on `receiver.url` until the block ends."""

    def __init__(self, secret: str, plan: Plan = always_ok) -> None:
        self.secret = secret
        self.plan = plan
        self.received: list[Received] = []
        self.streamed = 0
        self.busy: dict[str, int] = {}  # requests being answered, per hook
        self.most_busy: dict[str, int] = {}  # the most at once, per hook
        self.most_at_once = 0  # the most at once, over all hooks
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def __enter__(self) -> Receiver:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._start(), self._loop)
        future.result(timeout=10)
        return self

    def __exit__(self, *_: object) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def snapshot(self) -> list[Received]:
        with self._lock:
            return list(self.received)

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):  # Server.close_clients is 3.13's
            writer.close()
        serving = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in serving:
            task.cancel()
        await asyncio.gather(*serving, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while await self._one(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        got = self._record(headers, body)
        answer = self.plan(got)
        self._busy(got.hook_id, +1)
        try:
            if answer.delay:
                await asyncio.sleep(answer.delay)
        finally:
            self._busy(got.hook_id, -1)
        extra = "".join(f"{k}: {v}\r\n" for k, v in answer.headers.items())
        length = len(answer.body) + answer.stream_bytes
        writer.write(
            f"HTTP/1.1 {answer.status} X\r\nContent-Length: {length}\r\n{extra}\r\n".encode()
            + answer.body
        )
        chunk = b"x" * 65536
        left = answer.stream_bytes
        while left > 0:
            writer.write(chunk[:left])
            await writer.drain()
            self.streamed += min(left, len(chunk))
            left -= len(chunk)
        await writer.drain()
        return True

    def _busy(self, hook_id: str, step: int) -> None:
        with self._lock:
            self.busy[hook_id] = self.busy.get(hook_id, 0) + step
            self.most_busy[hook_id] = max(self.most_busy.get(hook_id, 0), self.busy[hook_id])
            self.most_at_once = max(self.most_at_once, sum(self.busy.values()))

    def _record(self, headers: dict[str, str], body: bytes) -> Received:
        delivery = headers.get("x-issues-delivery", "")
        with self._lock:
            attempt = 1 + sum(1 for r in self.received if r.delivery == delivery)
            got = Received(
                delivery=delivery,
                event=headers.get("x-issues-event", ""),
                hook_id=headers.get("x-issues-hook-id", ""),
                body=body,
                signed=verify_signature(self.secret, body, headers.get("x-issues-signature-256")),
                headers=headers,
                attempt=attempt,
            )
            self.received.append(got)
        return got
