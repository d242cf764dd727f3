"""The delivery worker: the background task that turns the event log into webhook calls.

One loop per process, started in the app's lifespan; across processes the store's lease
lets one of them deliver at a time. Each pass: keep the lease, turn new events into
deliveries (at once when the queues ran dry, else about every second), attempt what is due
(hooks concurrently, one delivery of a hook at a time), record each attempt. Between passes
it waits for an attempt ending, a new event (while the queues are dry), the next retry or
about a second (pings and redeliveries queued by other processes), whichever comes first,
and at least 20 ms: it shares the app's process, and a burst of writes must not become a
pass per write. While the loop lags (requests), the worker keeps to a share of it (5%):
each second its passes and attempts take pushes its next turn 19 s away, and it calls at
most two hooks at once; when the loop is idle again the backlog drains at full speed (see
`_pace`). Delivery is at least once: an attempt is recorded only after it ended, so a process
killed mid-attempt leaves the delivery pending, and whoever holds the lease next sends it
again under the same id.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import heapq
import logging
import os
import random
import socket
import ssl
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from types import TracebackType

import httpx

from fastapi_issues.schemas import HookOut, HookUpdate
from fastapi_issues.storage.clock import Clock, system_clock
from fastapi_issues.storage.deliveries import AttemptResult, DueDelivery
from fastapi_issues.storage.errors import DeliveryNotFound, HookNotFound
from fastapi_issues.storage.protocols import EventStore, HookStore
from fastapi_issues.webhooks._pace import Pacer
from fastapi_issues.webhooks._retry import RetryPolicy
from fastapi_issues.webhooks._sender import Sender

__all__ = ["DeliveryWorker"]

logger = logging.getLogger("fastapi_issues.webhooks")


class DeliveryWorker:
    """Delivers the events of `events` to the hooks of `hooks` (`store.hooks`, `store`).

    `async with DeliveryWorker(...)` runs it in the background until the block ends (then
    it stops, gives up the lease at once and closes its connections); `run_once()` makes one
    pass and waits for its attempts, for tests and scripts.

    `allow_private_targets` lifts the address check (intranets, tests). `transport` replaces
    the checked httpx transport (tests); `ssl_context`, the certificates HTTPS targets are
    verified against. `clock` stamps attempts and measures `deactivate_after` (a hook whose
    deliveries all failed that long is made inactive). At most `concurrency` hooks are
    called at once. A pass begins at least `pass_interval` seconds after the one before;
    `enqueue_interval` and `enqueue_batch` (the most deliveries a hook has queued) pace how
    far ahead of the receivers events are turned into deliveries (see `_due`).

    Requests come first: while the event loop lags by `busy_lag` seconds or more (an
    iteration's time besides the worker's, sampled every 20 ms; `loop_lag` replaces that
    probe, for tests), the worker's steps are metered and it waits so that its share of
    the loop stays about `loop_share`, calling at most `busy_concurrency` hooks at once.
    Deliveries then fall behind; they catch up once the loop is idle. Order and
    at-least-once delivery are the same either way.
    """

    def __init__(
        self,
        hooks: HookStore,
        events: EventStore,
        *,
        allow_private_targets: bool = False,
        retry: RetryPolicy | None = None,
        clock: Clock = system_clock,
        transport: httpx.AsyncBaseTransport | None = None,
        ssl_context: ssl.SSLContext | None = None,
        concurrency: int = 16,
        deactivate_after: timedelta = timedelta(hours=24),
        poll_interval: float = 1.0,
        pass_interval: float = 0.02,
        enqueue_interval: float = 1.0,
        enqueue_batch: int = 100,
        renew_interval: float = 5.0,
        owner: str | None = None,
        rand: Callable[[], float] = random.random,
        loop_share: float = 0.05,
        busy_lag: float = 0.001,
        busy_concurrency: int = 2,
        loop_lag: Callable[[], float] | None = None,
    ) -> None:
        if concurrency < 1 or busy_concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if not 0 < renew_interval <= 10:
            raise ValueError("the lease must be renewed within 10 s")
        self._hooks = hooks
        self._events = events
        self._retry = retry or RetryPolicy()
        self._clock = clock
        self._sender = Sender(
            allow_private=allow_private_targets,
            transport=transport,
            ssl_context=ssl_context,
            clock=clock,
        )
        self._concurrency = concurrency
        self._busy_concurrency = min(busy_concurrency, concurrency)
        self._pacer = Pacer(share=loop_share, busy_lag=busy_lag, lag=loop_lag)
        self._deactivate_after = deactivate_after
        self._poll = poll_interval
        self._spacing = pass_interval
        self._passed = 0.0
        self._enqueue_every = enqueue_interval
        self._enqueue_batch = enqueue_batch
        self._enqueued = float("-inf")
        self._queues_empty = True
        self._renew = renew_interval
        self._rand = rand
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._held = False
        self._renewed = 0.0
        self._flying: dict[str, asyncio.Task[int]] = {}
        # Hooks whose attempts ended during the current pass: what the pass read of them
        # may be stale (a delivery it saw pending is recorded since), so it skips them.
        self._landed_during: set[str] = set()
        self._retries: list[datetime] = []
        self._landed = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # -- starting and stopping ---------------------------------------------------------

    async def __aenter__(self) -> DeliveryWorker:
        self._task = asyncio.create_task(self.run(), name=f"webhook delivery {self.owner}")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop: attempts in flight are abandoned (their deliveries stay pending, to be sent
        again), the lease is given up so another process takes over at once."""
        self._stopping.set()
        if self._task is not None:
            await self._task
            self._task = None
        flying = list(self._flying.values())
        for task in flying:
            task.cancel()
        await asyncio.gather(*flying, return_exceptions=True)
        try:
            await self._hooks.release_delivery_lease(self.owner)
        except Exception:
            logger.exception("webhook worker %s could not release its lease", self.owner)
        self._held = False
        await self._sender.aclose()

    @property
    def holds_lease(self) -> bool:
        """Whether this worker held the delivery lease when it last asked."""
        return self._held

    # -- the loop ------------------------------------------------------------------------

    async def run(self) -> None:
        """Deliver until `aclose()`; store and network errors are logged, never raised."""
        self._pacer.start()
        try:
            await self._loop()
        finally:
            self._pacer.stop()

    async def _loop(self) -> None:
        while not self._stopping.is_set():
            if not await self._hold():
                self._landed.clear()
                await self._wait(None, self._poll)
                continue
            await self._space_out()
            if self._stopping.is_set():
                break
            last: int | None = None
            self._start_pass()
            try:
                last = await self._pacer.metered(self._pass())
            except Exception:
                logger.exception("webhook worker %s: a pass failed; trying again", self.owner)
            await self._wait(last, self._timeout())

    async def _pass(self) -> int | None:
        """Queue and dispatch what is due; returns the last event id to wait beyond, if the
        queues are dry. New events wake the loop only then: while the queues hold
        deliveries, the attempts' endings wake it, and events wait for the enqueue
        interval; under a burst of writes, a pass per write is waste."""
        last: int | None = None
        if self._queues_empty:
            last = await self._events.last_event_id()
        self._dispatch(await self._due())
        if self._queues_empty and last is None:
            last = await self._events.last_event_id()
        return last

    async def run_once(self) -> int:
        """One pass (if this worker can hold the lease): queue new events, attempt what is
        due and wait for those attempts. Returns how many attempts were made."""
        if not await self._hold(force=True):
            return 0
        self._start_pass()
        started = self._dispatch(await self._due(force=True))
        return sum(await asyncio.gather(*started))

    async def _hold(self, *, force: bool = False) -> bool:
        now = time.monotonic()
        if self._held and not force and now - self._renewed < self._renew:
            return True
        try:
            self._held = await self._hooks.hold_delivery_lease(self.owner)
        except Exception:
            logger.exception("webhook worker %s could not take the lease", self.owner)
            self._held = False
        self._renewed = now
        return self._held

    async def _due(self, *, force: bool = False) -> Sequence[DueDelivery]:
        """What is due, after turning new events into deliveries when the queues ran dry
        (at once: a quiet hook's event goes without delay), or at most every
        `enqueue_interval` while they hold deliveries, each hook's queue topped up to
        `enqueue_batch`.

        Enqueuing writes a delivery per event and hook; done for every new event, under a
        burst of writes it costs about what the writes do, on the requests' core, and runs
        far ahead of what the receivers take. The events wait as well in the log, behind
        each hook's cursor; a queue kept short also keeps every write of the store's
        deliveries small (the JSON store rewrites its whole file)."""
        now = time.monotonic()
        if force or self._queues_empty or now - self._enqueued >= self._enqueue_every:
            await self._hooks.enqueue_deliveries(limit=self._enqueue_batch)
            self._enqueued = now
        due = await self._hooks.due_deliveries()
        self._queues_empty = not due
        return due

    async def _space_out(self) -> None:
        """Wait until `pass_interval` after the last pass began, and while the loop lags,
        until the worker's loop time is paid for. The worker shares its process (and
        core) with the app's requests: under a burst of writes every new event would wake
        a pass of its own, each a few store round trips, and take time from the requests;
        spaced out, one pass takes the events of many requests."""
        gap = self._spacing - (time.monotonic() - self._passed)
        if gap > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), gap)
        await self._pacer.wait_turn(self._stopping)
        self._passed = time.monotonic()

    def _start_pass(self) -> None:
        # Cleared here rather than in `_wait`: an attempt ending while the pass runs must
        # wake the next wait at once, or its hook's next delivery waits for the poll.
        self._landed.clear()
        self._landed_during.clear()

    def _dispatch(self, due: Sequence[DueDelivery]) -> list[asyncio.Task[int]]:
        """Start one task per hook with due deliveries (sending them in turn), skipping
        hooks already being called (never two attempts of one hook at once) and hooks
        whose attempts ended since the pass read `due` (the next pass reads them anew)."""
        by_hook: dict[str, list[DueDelivery]] = {}
        for delivery in due:
            hook_id = delivery.hook_id
            if hook_id not in self._flying and hook_id not in self._landed_during:
                by_hook.setdefault(delivery.hook_id, []).append(delivery)
        started: list[asyncio.Task[int]] = []
        limit = self._busy_concurrency if self._pacer.busy() else self._concurrency
        for hook_id, deliveries in by_hook.items():
            if len(self._flying) >= limit:
                break
            task = asyncio.create_task(self._pacer.metered(self._deliver_all(deliveries)))
            self._flying[hook_id] = task
            task.add_done_callback(functools.partial(self._land, hook_id))
            started.append(task)
        return started

    def _land(self, hook_id: str, _task: asyncio.Task[int]) -> None:
        self._flying.pop(hook_id, None)
        self._landed_during.add(hook_id)
        self._landed.set()

    def _timeout(self) -> float:
        """How long the loop may wait: until the lease needs renewing, the earliest retry
        this worker scheduled, or the poll interval, whichever is first."""
        timeout = min(self._poll, max(self._renew - (time.monotonic() - self._renewed), 0))
        now = self._clock()
        while self._retries and self._retries[0] <= now:
            heapq.heappop(self._retries)
        if self._retries:
            timeout = min(timeout, (self._retries[0] - now).total_seconds())
        return max(timeout, 0.0)

    async def _wait(self, last: int | None, seconds: float) -> None:
        waits: list[asyncio.Future[object]] = [
            asyncio.ensure_future(self._landed.wait()),
            asyncio.ensure_future(self._stopping.wait()),
        ]
        if last is not None:
            waits.append(asyncio.ensure_future(self._events.wait_for_events(last)))
        try:
            done, _ = await asyncio.wait(
                waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for waiting in waits:
                waiting.cancel()
            await asyncio.gather(*waits, return_exceptions=True)
        for finished in done:
            if not finished.cancelled() and finished.exception() is not None:
                logger.warning("webhook worker %s: waiting for events failed", self.owner)

    # -- one hook's attempts -------------------------------------------------------------

    async def _deliver_all(self, deliveries: list[DueDelivery]) -> int:
        for n, delivery in enumerate(deliveries):
            if n:  # a hook's backlog is many deliveries in turn: each waits for its turn
                await self._pacer.wait_turn()
            await self._deliver(delivery)
        return len(deliveries)

    async def _deliver(self, delivery: DueDelivery) -> None:
        result = await self._attempt(delivery)
        if not result.ok:
            retry_at = self._retry.retry_at(delivery.attempts + 1, result.at, self._rand())
            result = replace(result, retry_at=retry_at)
            if retry_at is not None:
                heapq.heappush(self._retries, retry_at)
            logger.info(
                "webhook delivery %s to hook %s failed (attempt %d): %s",
                delivery.id,
                delivery.hook_id,
                delivery.attempts + 1,
                result.response,
            )
        try:
            hook = await self._hooks.record_attempt(delivery.id, result)
        except (DeliveryNotFound, HookNotFound):
            return  # deleted meanwhile: nothing left to record
        except Exception:
            logger.exception("webhook delivery %s: its attempt was not recorded", delivery.id)
            return
        if not result.ok:
            await self._deactivate_if_failing(hook, result.at)

    async def _attempt(self, delivery: DueDelivery) -> AttemptResult:
        try:
            return await self._sender.attempt(delivery)
        except Exception as exc:
            # Recorded as a failed attempt, so that it is retried on schedule rather than
            # at once in a tight loop.
            logger.exception("webhook delivery %s: the attempt broke", delivery.id)
            reason = f"internal error: {type(exc).__name__}"
            return AttemptResult(
                at=self._clock(), ok=False, status_code=None, duration_ms=0.0, response=reason
            )

    async def _deactivate_if_failing(self, hook: HookOut, now: datetime) -> None:
        since = hook.failing_since
        if not hook.active or since is None or now - since < self._deactivate_after:
            return
        try:
            await self._hooks.update_hook(hook.id, HookUpdate(active=False))
        except HookNotFound:
            return
        except Exception:
            logger.exception("webhook hook %s could not be deactivated", hook.id)
            return
        logger.warning("webhook hook %s deactivated: deliveries failing since %s", hook.id, since)
