"""The event cases of `python -m bench` (issue 17): live subscribers over Server-Sent Events.

- `event_latency`: two example-app processes on one store (as `uvicorn --workers 2` would
  run, but each addressable); a subscriber on the second, issues created on the first, one
  at a time. The latency of each is from the moment its POST was acknowledged to the moment
  its `issue.created` arrived on the other process's stream.
- `get_one+1000_idle_sse`: `get_one` while 1,000 idle subscribers hold streams open, and the
  server's memory per subscriber.
- `post+100_sse`: `post` while 100 subscribers read every event.

Each case with subscribers is held against the same case without them, measured just before
and just after it (see `_against`).

The subscribers are plain sockets read by one thread, so that the harness, not the server,
is what they cost on the load generator's core.
"""

from __future__ import annotations

import contextlib
import json
import resource
import selectors
import socket
import statistics
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bench.report import CaseResult
from bench.servers import HOST, Server

if TYPE_CHECKING:
    from bench.run import Bench

STREAM = "/api/v1/events/stream"
LATENCY_WRITES = 200
LATENCY_PAUSE = 0.02


@dataclass
class Arrivals:
    """When each issue's `issue.created` event arrived, by issue id."""

    created: dict[str, float] = field(default_factory=dict)
    events: int = 0


class Subscribers:
    """`count` SSE streams on `host:port`, read by one thread until `close`.

    With `record`, the `issue.created` events are parsed and their arrival times kept in
    `arrivals`; otherwise what arrives is read and dropped, as a browser tab would.
    """

    def __init__(self, host: str, port: int, count: int, *, record: bool = False) -> None:
        self.host, self.port, self.count, self.record = host, port, count, record
        self.arrivals = Arrivals()
        self._selector = selectors.DefaultSelector()
        self._buffers: dict[socket.socket, bytes] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)

    def __enter__(self) -> Subscribers:
        _allow_files(self.count + 256)
        # HTTP/1.0: the stream comes without chunked framing, so events are plain lines.
        request = f"GET {STREAM} HTTP/1.0\r\nHost: {self.host}\r\nAccept: text/event-stream\r\n\r\n"
        for _ in range(self.count):
            sock = socket.create_connection((self.host, self.port), timeout=30)
            sock.sendall(request.encode())
            self._await_headers(sock)
            sock.setblocking(False)
            self._selector.register(sock, selectors.EVENT_READ)
            self._buffers[sock] = b""
        self._thread.start()
        return self

    def _await_headers(self, sock: socket.socket) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(4096)
            if not chunk:
                raise RuntimeError("the server closed a subscriber's stream at once")
            head += chunk
        status = head.split(b"\r\n", 1)[0]
        if b" 200 " not in status + b" ":
            raise RuntimeError(f"subscribing got {status.decode(errors='replace')}")

    def _read(self) -> None:
        while not self._stop.is_set():
            for key, _ in self._selector.select(timeout=0.1):
                sock: socket.socket = key.fileobj  # type: ignore[assignment]
                with contextlib.suppress(BlockingIOError):
                    data = sock.recv(65536)
                    if self.record:
                        self._parse(sock, data, time.monotonic())

    def _parse(self, sock: socket.socket, data: bytes, now: float) -> None:
        buffered = self._buffers[sock] + data
        *events, self._buffers[sock] = buffered.replace(b"\r\n", b"\n").split(b"\n\n")
        for event in events:
            for line in event.split(b"\n"):
                if not line.startswith(b"data:"):
                    continue
                self.arrivals.events += 1
                payload = json.loads(line[5:])
                if payload.get("type") == "issue.created":
                    self.arrivals.created.setdefault(payload["issue_id"], now)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        for sock in self._buffers:
            sock.close()
        self._selector.close()


def _allow_files(count: int) -> None:
    """Raise this process's open-file limit (and so its children's) to hold `count`."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = count if hard == resource.RLIM_INFINITY else min(count, hard)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def create_issues(base_url: str, count: int, pause: float) -> Iterator[tuple[str, float]]:
    """POST `count` issues one at a time; yield each id with when it was acknowledged."""
    body = json.dumps({"title": "Latency probe", "description": "Created by the benchmark."})
    for _ in range(count):
        request = urllib.request.Request(
            base_url + "/api/v1/issues",
            data=body.encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as reply:
            issue_id = json.load(reply)["id"]
        yield issue_id, time.monotonic()
        time.sleep(pause)


@dataclass
class Latency:
    p50_ms: float
    p99_ms: float
    max_ms: float
    writes: int
    missing: int


def measure_latency(writer_url: str, reader_host: str, reader_port: int) -> Latency:
    """The cross-process latency of `LATENCY_WRITES` creates (see the module docstring)."""
    with Subscribers(reader_host, reader_port, 1, record=True) as subscriber:
        acknowledged = dict(create_issues(writer_url, LATENCY_WRITES, LATENCY_PAUSE))
        deadline = time.monotonic() + 5
        arrivals = subscriber.arrivals.created
        while len(arrivals.keys() & acknowledged.keys()) < len(acknowledged):
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
        delays = [
            (arrivals[issue_id] - acked) * 1000
            for issue_id, acked in acknowledged.items()
            if issue_id in arrivals
        ]
    if len(delays) < 2:
        raise RuntimeError("the subscriber received (almost) no events")
    cuts = statistics.quantiles(delays, n=100, method="inclusive")
    return Latency(
        p50_ms=statistics.median(delays),
        p99_ms=cuts[98],
        max_ms=max(delays),
        writes=len(acknowledged),
        missing=len(acknowledged) - len(delays),
    )


EVENT_CASES = ("event_latency", "get_one+1000_idle_sse", "post+100_sse")
IDLE_SUBSCRIBERS = 1000
READING_SUBSCRIBERS = 100


def run_event_cases(
    bench: Bench,
    server: Server,
    env: dict[str, str],
    label: Callable[[str], tuple[str, int, bool, str]],
    options: dict[str, dict[str, str]],
) -> None:
    """The event cases on the example app `server` (started with `env`), auth off.

    `options` holds the wrk options of the `get_one` and `post` cases; each case with
    subscribers is held against the same case without them, measured just before.
    """
    if bench.wanted("event_latency"):
        with bench.second_server(env, label("second worker")) as second:
            latency = measure_latency(server.url, HOST, second.port)
        bench.results.append(_latency_result(label("event_latency"), latency))
    if bench.wanted("get_one+1000_idle_sse"):
        get_one = options["get_one"]
        before, _ = bench.measure(server, label("get_one, before idle_sse"), "get_one",
                                  options=get_one)  # fmt: skip
        rss_before = server.rss_bytes()
        with Subscribers(HOST, server.port, IDLE_SUBSCRIBERS):
            time.sleep(1)
            per_subscriber = (server.rss_bytes() - rss_before) / IDLE_SUBSCRIBERS
            held, _ = bench.measure(
                server, label("get_one+1000_idle_sse"), "get_one", options=get_one
            )
        after, _ = bench.measure(server, label("get_one, after idle_sse"), "get_one",
                                 options=get_one)  # fmt: skip
        held.extra["rss_kb_per_subscriber"] = round(per_subscriber / 1024, 1)
        held.extra.update(_against(held, before, after))
    if bench.wanted("post+100_sse"):
        before, _ = bench.measure(server, label("post, before sse"), "post",
                                  options=options["post"])  # fmt: skip
        with Subscribers(HOST, server.port, READING_SUBSCRIBERS):
            held, _ = bench.measure(server, label("post+100_sse"), "post", options=options["post"])
        after, _ = bench.measure(server, label("post, after sse"), "post",
                                 options=options["post"])  # fmt: skip
        held.extra.update(_against(held, before, after))


def _against(held: CaseResult, before: CaseResult, after: CaseResult) -> dict[str, float | None]:
    """A case with subscribers (or hooks) over the same case without, measured just before
    and just after it: against their mean, so that a drift of the server's rate over the run
    (a store that grows with every POST gets slower) is not taken for the subscribers' cost.
    By rate, and by rate per CPU-second of the server (the steadier one when other processes
    took CPU)."""

    def per_cpu(result: CaseResult) -> float:
        return result.rate / result.server_cpu if result.server_cpu else 0.0

    rate = (before.rate + after.rate) / 2
    cpu_rate = (per_cpu(before) + per_cpu(after)) / 2
    return {
        "x_without": round(held.rate / rate, 3) if rate else None,
        "x_without_per_cpu": round(per_cpu(held) / cpu_rate, 3) if cpu_rate else None,
        "without_before": round(before.rate, 1),
        "without_after": round(after.rate, 1),
    }


def _latency_result(label: tuple[str, int, bool, str], latency: Latency) -> CaseResult:
    store, size, auth, case = label
    result = CaseResult(
        store=store, size=size, auth=auth, case=case, connections=1,
        rate=0.0, p50_ms=latency.p50_ms, p99_ms=latency.p99_ms, errors=latency.missing,
        rss_mb=0.0, server_cpu=0.0, other_cpu=0.0,
        extra={"writes": latency.writes, "max_ms": round(latency.max_ms, 1)},
    )  # fmt: skip
    print(
        f"  {store} {case}: p50 {latency.p50_ms:.1f} ms, p99 {latency.p99_ms:.1f} ms, "
        f"max {latency.max_ms:.1f} ms over {latency.writes} writes, {latency.missing} missing",
        file=sys.stderr,
        flush=True,
    )
    return result
