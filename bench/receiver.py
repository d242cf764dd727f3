"""The webhook receiver of the benchmark: `python -m bench.receiver --port P`, the hooks'
secret in the environment (`FASTAPI_ISSUES_BENCH_HOOK_SECRET`, kept off the command line).

A process of its own, so that what it costs is neither the server's core nor the harness
thread's: asyncio (uvloop when installed) over raw sockets, HTTP/1.1 keep-alive, answering
200 to every POST at once. It counts deliveries (all of them, and distinct
`X-Issues-Delivery` ids), checks the signature of the first few and of every hundredth with
hmac alone (not the package's verifier: an outside check), and keeps when the first and last
delivery arrived (the system's monotonic clock, the harness's too). `GET /stats` answers
those counts as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import time
from dataclasses import asdict, dataclass, field

FIRST_CHECKED = 20
CHECK_EVERY = 100
_OK = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"


@dataclass
class Stats:
    received: int = 0
    distinct: int = 0
    checked: int = 0
    bad_signatures: int = 0
    first_at: float | None = None
    last_at: float | None = None
    ids: set[str] = field(default_factory=set, repr=False)

    def public(self) -> dict[str, object]:
        data = asdict(self)
        del data["ids"]
        return data


class Receiver(asyncio.Protocol):
    def __init__(self, stats: Stats, secret: bytes) -> None:
        self.stats = stats
        self.secret = secret
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while self._one():
            pass

    def _one(self) -> bool:
        """Answer one whole request from the buffer; False when there is none yet."""
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return False
        lines = self.buffer[:end].decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        if len(self.buffer) < end + 4 + length:
            return False
        body = self.buffer[end + 4 : end + 4 + length]
        self.buffer = self.buffer[end + 4 + length :]
        assert self.transport is not None
        if lines[0].startswith("GET /stats"):
            reply = json.dumps(self.stats.public()).encode()
            head = (
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(reply)}\r\n\r\n"
            )
            self.transport.write(head.encode() + reply)
            return True
        self._count(headers, body)
        self.transport.write(_OK)
        return True

    def _count(self, headers: dict[str, str], body: bytes) -> None:
        stats = self.stats
        now = time.monotonic()
        stats.received += 1
        stats.first_at = stats.first_at or now
        stats.last_at = now
        delivery = headers.get("x-issues-delivery", "")
        if delivery not in stats.ids:
            stats.ids.add(delivery)
            stats.distinct += 1
        if stats.received <= FIRST_CHECKED or stats.received % CHECK_EVERY == 0:
            stats.checked += 1
            expected = "sha256=" + hmac.new(self.secret, body, hashlib.sha256).hexdigest()
            if not hmac.compare_digest(expected, headers.get("x-issues-signature-256", "")):
                stats.bad_signatures += 1


async def serve(port: int, secret: bytes) -> None:
    stats = Stats()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Receiver(stats, secret), "127.0.0.1", port)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.receiver")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    secret = os.environ["FASTAPI_ISSUES_BENCH_HOOK_SECRET"]
    try:
        import uvloop

        run = uvloop.run
    except ImportError:
        run = asyncio.run
    run(serve(args.port, secret.encode()))


if __name__ == "__main__":
    main()
