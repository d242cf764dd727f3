"""The JSON store's event numbering, shared by its issues and comments files and by every
process that opens them.

A sidecar `<issues>.events.lock` holds two counters: the highest event id given, and the
highest id whose write is on disk ("visible"). A write numbers its events and renames its
file into place while it holds the lock (a `flock`, and a thread lock for the threads of
one process), then moves the visible counter. A reader reads the visible counter first and
shows no event above it, so events appear in the order of their ids and a reader resuming
after id X never misses one that lands later with a smaller id.

The counters are a cache of what the files say: each file keeps the highest id given when
it was written (`last_event_id`), and the store raises the counters to that on opening, so
ids are never reused even if the lock file is lost.

The visible counter is also how live readers learn of other processes' writes
(`changed`): a read of 8 bytes of a shared mapping, no file reloaded.
"""

from __future__ import annotations

import contextlib
import logging
import mmap
import os
import threading
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi_issues.schemas import EventOut
from fastapi_issues.storage._wake import EventWake
from fastapi_issues.storage.records._file_lock import lock_file, unlock_file
from fastapi_issues.storage.rules import EventDraft

__all__ = ["EventEntry", "FileEventJournal"]

_SIZE = 16
_log = logging.getLogger("fastapi_issues")
EventEntry = tuple[Sequence[EventDraft], str | None, datetime]
"""The events of one write before numbering: drafts, actor, time."""


class FileEventJournal:
    """Numbers events for the files of one JSON store (see the module's docstring)."""

    def __init__(self, path: Path, wake: EventWake | None = None) -> None:
        self.path = path
        self._wake = wake
        self._seen = 0  # the visible counter when `changed` last looked
        self._threads = threading.Lock()
        self._fd: int | None = None
        self._view: mmap.mmap | None = None
        # Where the counters live when the folder cannot be written to: the store then
        # serves its files as they are (no write can succeed there anyway).
        self._local = bytearray(_SIZE)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            if os.fstat(self._fd).st_size < _SIZE:
                os.ftruncate(self._fd, _SIZE)
            self._view = mmap.mmap(self._fd, _SIZE, access=mmap.ACCESS_READ)
        except OSError as exc:
            _log.warning("%s cannot be used (%s): events are numbered in this process", path, exc)

    def _read(self, offset: int) -> int:
        source = self._view if self._view is not None else self._local
        return int.from_bytes(source[offset : offset + 8], "big")

    def _write(self, offset: int, value: int) -> None:
        if self._fd is None:
            self._local[offset : offset + 8] = value.to_bytes(8, "big")
        else:
            os.pwrite(self._fd, value.to_bytes(8, "big"), offset)

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """Held from numbering a write's events until its file is in place."""
        with self._threads:
            fd = self._fd
            if fd is None:
                yield
                return
            lock_file(fd)
            try:
                yield
            finally:
                unlock_file(fd)

    def number(self, entries: list[Any], floor: int) -> list[tuple[Any, bytes]]:
        """Number the entries' drafts after every id given (and after `floor`)."""
        last = max(self._read(0), floor)
        numbered: list[tuple[Any, bytes]] = []
        for drafts, actor, now in entries:
            for draft in drafts:
                last += 1
                event = draft.numbered(last, actor, now)
                numbered.append((event, event.model_dump_json().encode()))
        self._write(0, last)
        return numbered

    def published(self, last_id: int) -> None:
        """Readers may see every event up to `last_id` now."""
        if last_id > self._read(8):
            self._write(8, last_id)
            # This process's waiters are woken now (from the writer's thread), so `changed`
            # need not tell them again; what others published before is read with it.
            self._seen = last_id
            if self._wake is not None:
                self._wake.written_soon()

    def raise_to(self, last_id: int) -> None:
        """Make both counters at least `last_id`, what the files say was given."""
        with self.exclusive():
            if last_id > self._read(0):
                self._write(0, last_id)
            self.published(last_id)
            self._seen = self._read(8)

    def visible(self) -> int:
        """The highest id a reader may show."""
        return self._read(8)

    async def changed(self) -> bool:
        """Whether the visible counter moved since last asked (by any process's write):
        the cross-process check of `EventWake.wait`."""
        visible = self._read(8)
        if visible == self._seen:
            return False
        self._seen = visible
        return True

    def decode(self, item: Any) -> EventOut:
        """An event as a file holds it."""
        return EventOut.model_validate(item)

    def close(self) -> None:
        """Release the lock file."""
        if self._view is not None:
            self._view.close()
            self._view = None
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
