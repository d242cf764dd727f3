"""The JSON store's webhooks: a `HookStore` over `hooks.json` beside the issues.

The file is a records file like the others (`durable_file`): one record per line, each a
hook (with its secret and its cursor in the event log) or a delivery (with its body). Every
write is one step of a `HookBook` (`_hooks`, the memory store's logic) applied under the
file's cross-process lock to a book loaded from the records as they are on disk, then
written back durably before the call returns; so a step sees every other process's writes,
and an enqueue moves the cursors and adds the deliveries in one atomic rename. The file
holds the hooks' secrets, so it is made readable by its owner only.

Each write rewrites the file whole, so its size is the cost of every write: a delivery
takes about 1 KB for events of issues of ordinary size. Finished deliveries are dropped past
each hook's `kept` (the `HookBook` step of recording an attempt drops them, so they leave
the file in the same rename), which bounds the file by the hooks and their pending
deliveries. A folder from before webhooks has no such file: it has no hooks, and the file
is made by the first write.

The delivery lease is a non-blocking exclusive lock on `hooks.json.lease` (`FileLease`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from fastapi_issues.schemas import DeliveryOut, EventOut, HookCreate, HookOut, HookUpdate
from fastapi_issues.storage.clock import Clock
from fastapi_issues.storage.deliveries import (
    FINISHED_KEPT,
    AttemptResult,
    DueDelivery,
    checked_kept,
)
from fastapi_issues.storage.query import DeliveryPage, EventQuery, HookPage
from fastapi_issues.storage.records._events import EventLog
from fastapi_issues.storage.records._file_lock import try_lock_file, unlock_file
from fastapi_issues.storage.records._hooks import (
    LEASE_SECONDS,
    HookBook,
    StoredDelivery,
    StoredHook,
)
from fastapi_issues.storage.records.durable_file import DurableJSONArray

__all__ = ["FileLease", "JSONFileHooks"]

R = TypeVar("R")
HookRecord = StoredHook | StoredDelivery
_log = logging.getLogger("fastapi_issues")


# -- the records as the file holds them ----------------------------------------------------


def _encode(record: HookRecord) -> str:
    if isinstance(record, StoredHook):
        hook = record.shown.model_dump_json()
        secret = json.dumps(record.secret)
        return f'{{"kind": "hook", "hook": {hook}, "secret": {secret}, "cursor": {record.cursor}}}'
    delivery = record.shown.model_dump_json()
    # A string rather than the parsed JSON: its signature covers these exact bytes.
    body = json.dumps(record.body.decode("utf-8"))
    queued = "true" if record.queued else "false"
    return (
        f'{{"kind": "delivery", "delivery": {delivery}, "body": {body}, '
        f'"queued": {queued}, "seq": {record.seq}}}'
    )


def _decode(item: Any, file_mtime: float) -> HookRecord:
    kind = item["kind"]
    if kind == "hook":
        hook = HookOut.model_validate(item["hook"])
        return StoredHook(hook, _text(item["secret"]), _count(item["cursor"]))
    if kind == "delivery":
        delivery = DeliveryOut.model_validate(item["delivery"])
        queued = item["queued"]
        if not isinstance(queued, bool):
            raise TypeError("queued is not true or false")
        return StoredDelivery(delivery, _text(item["body"]).encode(), queued, _count(item["seq"]))
    raise ValueError(f"unknown kind of record {kind!r}")


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("expected a string")
    return value


def _count(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise TypeError("expected a count")
    return value


def _copied(record: HookRecord) -> HookRecord:
    # What `copy.copy` makes, in a tenth of its time: every write copies every record.
    twin = object.__new__(type(record))
    twin.__dict__.update(record.__dict__)
    return twin


# -- the lease -----------------------------------------------------------------------------


class FileLease:
    """The delivery lease of every process on one set of files: an exclusive lock on
    `path`, taken without waiting and held while its owner renews it.

    The operating system drops the lock when the holding process dies, so another takes
    over at once after a `kill -9`. A holder that stops renewing (its worker hung) gives
    the lock up `seconds` after its last renewal, by a timer on its event loop; its own
    process's other owners may take over then even if that loop is gone.
    """

    def __init__(self, path: Path, seconds: float = LEASE_SECONDS) -> None:
        self.path = path
        self._seconds = seconds
        self._fd: int | None = None
        self._owner: str | None = None
        self._until = 0.0
        self._lapse: asyncio.TimerHandle | None = None
        self._refused = False

    def hold(self, owner: str) -> bool:
        now = time.monotonic()
        if self._owner not in (None, owner) and now < self._until:
            return False
        if self._owner is None and not self._lock():
            return False
        self._owner, self._until = owner, now + self._seconds
        if self._lapse is not None:
            self._lapse.cancel()
        self._lapse = asyncio.get_running_loop().call_later(self._seconds, self._expire)
        return True

    def release(self, owner: str) -> None:
        if self._owner == owner:
            self._let_go()

    def _expire(self) -> None:
        self._lapse = None
        if self._owner is None:
            return
        left = self._until - time.monotonic()
        if left > 0:  # a timer may fire up to the clock's resolution early
            self._lapse = asyncio.get_running_loop().call_later(left, self._expire)
            return
        _log.warning("delivery lease of %s lapsed: not renewed in time", self._owner)
        self._let_go()

    def _lock(self) -> bool:
        if self._fd is None:
            try:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                # A folder this process may not write to: it cannot record attempts either.
                # Said once, not at every try of the worker.
                if not self._refused:
                    _log.warning("%s cannot be opened (%s): no delivery lease", self.path, exc)
                self._refused = True
                return False
        return try_lock_file(self._fd)

    def _let_go(self) -> None:
        self._owner = None
        if self._lapse is not None:
            self._lapse.cancel()
            self._lapse = None
        if self._fd is not None:
            unlock_file(self._fd)

    def close(self) -> None:
        """Give the lease up and close the lock file."""
        if self._owner is not None:
            self._let_go()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


# -- the store's part ----------------------------------------------------------------------


class JSONFileHooks:
    """`HookStore` over `path` (see the module's docstring). `events` reads the store's
    event log as it is now, fresh from its files; `clock` gives the time of every write;
    `kept` is how many finished deliveries each hook keeps."""

    def __init__(
        self,
        path: Path,
        events: Callable[[], Awaitable[EventLog]],
        clock: Clock,
        *,
        kept: int = FINISHED_KEPT,
    ) -> None:
        self._file = DurableJSONArray[HookRecord](
            path,
            key=lambda record: record.shown.id,
            decode=_decode,
            encode=_encode,
            what="hooks",
            file_mode=0o600,
        )
        self._events = events
        self._clock = clock
        self._kept = checked_kept(kept)
        self._lease = FileLease(path.with_name(path.name + ".lease"))
        self._read_from: Mapping[str, HookRecord] | None = None
        self._read_book = HookBook()

    @property
    def path(self) -> Path:
        """The file the hooks and their deliveries are kept in."""
        return self._file.path

    async def _book(self) -> HookBook:
        """The records as every process's acknowledged writes left them, for reading:
        the book shares the snapshot's records, so nothing may change them."""
        records = await self._file.fresh_records()
        if records is not self._read_from:
            self._read_book = HookBook.holding(records.values())
            self._read_from = records
        return self._read_book

    async def _write(self, step: Callable[[HookBook], R]) -> R:
        """Apply `step` to a book of copies of the records on disk, under the file's lock,
        and write what it changed (on disk when this returns)."""

        def change(records: dict[str, HookRecord]) -> R:
            book = HookBook.holding((_copied(record) for record in records.values()), self._kept)
            result = step(book)  # raises, if at all, before `records` is touched
            kept: dict[str, HookRecord] = {**book.hooks, **book.deliveries}
            for key in [key for key in records if key not in kept]:
                del records[key]
            for key, record in kept.items():
                # Unchanged copies compare equal (their fields are the same objects), so
                # the original stays and its encoded line is reused.
                if records.get(key) != record:
                    records[key] = record
            return result

        return await self._file.write(change)

    async def _last_event_id(self) -> int:
        return (await self._events()).last_id

    # -- the admin side ------------------------------------------------------------------

    async def create_hook(self, data: HookCreate) -> HookOut:
        last, now = await self._last_event_id(), self._clock()
        return await self._write(lambda book: book.create(data, now, last))

    async def get_hook(self, hook_id: str) -> HookOut:
        return (await self._book()).hook(hook_id).shown

    async def list_hooks(self, *, offset: int = 0, limit: int = 100) -> HookPage:
        return (await self._book()).page(offset, limit)

    async def update_hook(self, hook_id: str, changes: HookUpdate) -> HookOut:
        last, now = await self._last_event_id(), self._clock()
        return await self._write(lambda book: book.update(hook_id, changes, now, last))

    async def delete_hook(self, hook_id: str) -> None:
        await self._write(lambda book: book.delete(hook_id))

    async def list_deliveries(
        self, hook_id: str, *, offset: int = 0, limit: int = 20
    ) -> DeliveryPage:
        return (await self._book()).delivery_page(hook_id, offset, limit)

    async def get_delivery(self, hook_id: str, delivery_id: str) -> DeliveryOut:
        return (await self._book()).delivery(hook_id, delivery_id).shown

    async def queue_ping(self, hook_id: str) -> DeliveryOut:
        now = self._clock()
        return await self._write(lambda book: book.ping(hook_id, now))

    async def redeliver(self, hook_id: str, delivery_id: str) -> DeliveryOut:
        now = self._clock()
        return await self._write(lambda book: book.redeliver(hook_id, delivery_id, now))

    # -- the worker's side ---------------------------------------------------------------

    async def enqueue_deliveries(self, *, limit: int = 1000) -> int:
        # A log read before the lock is taken can only be older than the cursors another
        # process moved meanwhile: events at or before a cursor are never read again, and
        # those after it wait for the next call.
        log, now = await self._events(), self._clock()
        # The worker asks often; when no hook is behind the log with room in its queue, take
        # no lock, write nothing.
        book = await self._book()
        waiting = book.queued_per_hook()
        if all(
            not h.shown.active or h.cursor >= log.last_id or waiting.get(h.shown.id, 0) >= limit
            for h in book.hooks.values()
        ):
            return 0

        def read(after: int, count: int) -> Sequence[EventOut]:
            return log.select(EventQuery(after=after, limit=count))

        return await self._write(lambda book: book.enqueue(read, limit, now))

    async def due_deliveries(self, *, limit: int = 100) -> Sequence[DueDelivery]:
        return (await self._book()).due(self._clock(), limit)

    async def record_attempt(self, delivery_id: str, result: AttemptResult) -> HookOut:
        return await self._write(lambda book: book.record(delivery_id, result))

    async def hold_delivery_lease(self, owner: str) -> bool:
        return self._lease.hold(owner)

    async def release_delivery_lease(self, owner: str) -> None:
        self._lease.release(owner)

    def close(self) -> None:
        """Give the lease up and release the files' descriptors."""
        self._lease.close()
        self._file.close()
