"""The webhook cases of `python -m bench` (issue 18): deliveries to a local receiver.

- `post+5_hooks`: `post` with 5 active hooks (every event) on a receiver, held against
  `post` without hooks measured just before and just after (see `bench.events._against`),
  each of the three on an app of its own on a store freshly filled to the same size: the
  deliveries are made by the worker in the background, never on the request path, so the
  rate should hardly move. Besides the ratio, how far behind
  the deliveries were when the load stopped (backlog), how long they took to catch up
  (drain) and how fast they went meanwhile.
- `deliveries`: deliveries per second end to end, after the store's example app stopped:
  5 hooks registered, then 1,000 issues (fewer in a smoke run) created directly in the
  store (so their events wait in the log), then a fresh example-app process started on it;
  from its first delivery to its last, nothing else running.

The receiver (`bench/receiver.py`) is a process of its own on the load generator's core,
answering 200 at once, counting distinct delivery ids and checking signatures; its CPU share
is reported, to show it was not the bottleneck.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from bench.events import _against
from bench.report import CaseResult
from bench.servers import HOST, Watch, free_port
from fastapi_issues.schemas import HookCreate, HookUpdate, IssueCreate, IssuePriority
from fastapi_issues.storage.urls import close_store, open_issue_store, prepare_store

if TYPE_CHECKING:
    from bench.run import Bench

HOOK_CASES = ("post+5_hooks", "deliveries")
HOOKS = 5
WAITING_EVENTS = 1000
DRAIN_LIMIT = 60.0


def _drain_limit(bench: Bench) -> float:
    # A smoke run (--quick, 2 s cases) waits seconds, not minutes, for the deliveries.
    return min(DRAIN_LIMIT, 6 * bench.settings.seconds)


def _waiting_events(bench: Bench) -> int:
    return int(min(WAITING_EVENTS, 100 * bench.settings.seconds))


T = TypeVar("T")


class Receiver:
    """`python -m bench.receiver` on a free port of 127.0.0.1, for the length of a `with`."""

    def __init__(self, secret: str, log: Path) -> None:
        self.secret = secret
        self.log = log
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/hook"

    def __enter__(self) -> Receiver:
        env = {**os.environ, "FASTAPI_ISSUES_BENCH_HOOK_SECRET": self.secret}
        command = [sys.executable, "-m", "bench.receiver", "--port", str(self.port)]
        repo = Path(__file__).resolve().parent.parent
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                command, cwd=repo, env=env, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                self.stats()
                return self
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.05)
        self.__exit__()
        raise RuntimeError(f"the receiver did not start; see {self.log}")

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"http://{HOST}:{self.port}/stats", timeout=5) as reply:
            data: dict[str, Any] = json.load(reply)
            return data

    def cpu_seconds(self) -> float:
        assert self.process is not None
        with open(f"/proc/{self.process.pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def wait_for(self, count: int, limit: float) -> dict[str, Any]:
        """The stats once `count` distinct deliveries arrived, or after `limit` seconds."""
        deadline = time.monotonic() + limit
        while True:
            stats = self.stats()
            if stats["distinct"] >= count or time.monotonic() > deadline:
                return stats
            time.sleep(0.05)


# -- the store, directly -----------------------------------------------------------------


def _on_store(url: str, work: Callable[[Any], Awaitable[T]]) -> T:
    async def run() -> T:
        store: Any = open_issue_store(url)
        try:
            await prepare_store(store)
            return await work(store)
        finally:
            await close_store(store)

    return asyncio.run(run())


def add_hooks(url: str, target: str, secret: str) -> tuple[list[str], int]:
    """Register `HOOKS` hooks on every event at `target`; their ids and the last event id
    then (each delivers the events after it)."""

    async def work(store: Any) -> tuple[list[str], int]:
        data = HookCreate.model_validate({"url": target, "secret": secret})
        ids = [(await store.hooks.create_hook(data)).id for _ in range(HOOKS)]
        return ids, await store.last_event_id()

    return _on_store(url, work)


def deactivate_hooks(url: str, ids: list[str]) -> None:
    async def work(store: Any) -> None:
        for hook_id in ids:
            await store.hooks.update_hook(hook_id, HookUpdate(active=False))

    _on_store(url, work)


def last_event_id(url: str) -> int:
    async def work(store: Any) -> int:
        last: int = await store.last_event_id()
        return last

    return _on_store(url, work)


def add_issues(url: str, count: int) -> int:
    """Create `count` issues through the store, one event each; the last event id."""

    async def work(store: Any) -> int:
        data = IssueCreate(title="Waiting issue", description="Made by the benchmark.",
                           priority=IssuePriority.high)  # fmt: skip
        for _ in range(count):
            await store.create(data, reporter="johndoe")
        last: int = await store.last_event_id()
        return last

    return _on_store(url, work)


# -- the cases -----------------------------------------------------------------------------


@dataclass
class _Mark:
    at: float
    distinct: int
    cpu: float


def run_post_with_hooks(bench: Bench, store: str, size: int, options: dict[str, str]) -> None:
    """`post` alone, then `post+5_hooks` (and the drain of its deliveries), then `post`
    alone again: each on an example app of its own, on a store freshly filled with `size`
    issues, so that the three start from the same data."""

    def label(case: str) -> tuple[str, int, bool, str]:
        return (store, size, False, case)

    with bench.fresh_app(store, size, "post-before-hooks") as (server, _):
        before, _ = bench.measure(server, label("post, before hooks"), "post", options=options)
    secret = secrets.token_hex(16)
    receiver = Receiver(secret, bench.logs / f"receiver-{store}-post.log")
    with receiver, bench.fresh_app(store, size, "post-hooks") as (server, store_url):
        _, first_event = add_hooks(store_url, receiver.url, secret)
        marks: list[_Mark] = []

        def mark() -> None:
            marks.append(_Mark(time.monotonic(), receiver.stats()["distinct"],
                               receiver.cpu_seconds()))  # fmt: skip

        held, load = bench.measure(
            server, label("post+5_hooks"), "post", options=options, after_warmup=mark
        )
        mark()
        start, end = marks
        expected = HOOKS * (last_event_id(store_url) - first_event)
        final = receiver.wait_for(expected, _drain_limit(bench))
        drained = time.monotonic()
    with bench.fresh_app(store, size, "post-after-hooks") as (server, _):
        after, _ = bench.measure(server, label("post, after hooks"), "post", options=options)
    backlog = expected - end.distinct
    waited = drained - end.at
    drain_rate = (final["distinct"] - end.distinct) / waited if waited > 0 else 0.0
    left = max(0, expected - final["distinct"])
    held.extra.update(_against(held, before, after))
    held.extra.update(
        {
            "deliveries_per_s_under_load": round((end.distinct - start.distinct) / load.seconds),
            "backlog_at_end": backlog,
            # Past the drain limit, what is left at the rate the drain went.
            "drain_s": round(
                final["last_at"] - end.at
                if not left
                else waited + (left / drain_rate if drain_rate else float("inf")),
                1,
            )
            if backlog > 0
            else 0.0,
            "drain_estimated": bool(left),
            "deliveries_per_s_draining": round(drain_rate),
            "undelivered": left,
            "duplicates": final["received"] - final["distinct"],
            "bad_signatures": f"{final['bad_signatures']} of {final['checked']} checked",
            "receiver_cpu": round((end.cpu - start.cpu) / (end.at - start.at), 2),
            "waited_s": round(waited, 1),
        }
    )
    print(f"    post+5_hooks: {held.extra}", file=sys.stderr, flush=True)


def run_deliveries(bench: Bench, env: dict[str, str], store: str, size: int, url: str) -> None:
    """`deliveries`: events waiting in the log, delivered by a fresh app process on `url`."""
    secret = secrets.token_hex(16)
    with Receiver(secret, bench.logs / f"receiver-{store}-deliveries.log") as receiver:
        ids, first_event = add_hooks(url, receiver.url, secret)
        expected = HOOKS * (add_issues(url, _waiting_events(bench)) - first_event)
        name = f"{store}-{size}-deliveries"
        with bench._server("examples.app:app", env, "/health", name) as server:
            cpu_before, started = receiver.cpu_seconds(), time.monotonic()
            profiler = bench._profile(server, (store, size, False, "deliveries"))
            with Watch(server) as watch:
                final = receiver.wait_for(expected, _drain_limit(bench))
            if profiler is not None:
                profiler.wait()
            receiver_cpu = (receiver.cpu_seconds() - cpu_before) / (time.monotonic() - started)
        deactivate_hooks(url, ids)
    span = (final["last_at"] or 0.0) - (final["first_at"] or 0.0)
    rate = (final["distinct"] - 1) / span if span > 0 else 0.0
    result = CaseResult(
        store=store, size=size, auth=False, case="deliveries", connections=HOOKS, rate=rate,
        p50_ms=0.0, p99_ms=0.0, errors=max(0, expected - final["distinct"]),
        rss_mb=watch.peak_rss / 2**20, server_cpu=watch.cpu_share, other_cpu=0.0,
        extra={
            "deliveries": final["distinct"], "expected": expected, "hooks": HOOKS,
            "duplicates": final["received"] - final["distinct"],
            "bad_signatures": f"{final['bad_signatures']} of {final['checked']} checked",
            "receiver_cpu": round(receiver_cpu, 2),
        },
    )  # fmt: skip
    bench.results.append(result)
    print(
        f"  {store} {size:,} deliveries: {rate:,.0f}/s, {final['distinct']} of {expected}, "
        f"server CPU {watch.cpu_share:.2f}, {result.extra}",
        file=sys.stderr,
        flush=True,
    )
