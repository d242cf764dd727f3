"""The older events of a record file, in an append-only archive beside it.

A record file with an event log (`durable_file`, version 4 of `_file_format`) keeps its
newest events itself and moves older ones to `<name>.events.jsonl`, one event per line, so
that a write rewrites a bounded amount however long the log grows (version 3 kept every event
in the file: a write took 2.6 ms on a new file and 11.2 ms with 1 MiB of events).

Crash safety, with the file's own protocol (a temporary file renamed over it):

- Only events already in the file on disk are moved, never those of the write under way;
  they are appended and fsynced *before* the file without them is renamed into place. A
  crash in between leaves them in both, and a reader takes each id once (the file's copy).
  A write's own events are therefore in the file, renamed with its change: both or neither.
- A crash in the middle of an append leaves a last line without its newline: readers skip
  it (those events are still in the file), and the next append cuts it off first.
- A prune rewrites the archive (temporary file, rename) before the file is rewritten.

The archive is read once and then only past where it was read before, so a reader that
reloads the file after every write of another process does not decode old events again.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from fastapi_issues.storage.records._file_lock import fsync_folder

__all__ = ["KEPT_IN_FILE", "SPILL_ABOVE", "EventArchive", "to_archive"]

EventPair = tuple[Any, bytes]  # an event and its JSON line

KEPT_IN_FILE = 64
"""The events a file keeps once older ones are moved to its archive."""

SPILL_ABOVE = 128
"""How many events (of writes already on disk) a file holds before older ones move."""


def to_archive(on_disk: Sequence[EventPair]) -> Sequence[EventPair]:
    """Which of the events in a file on disk (oldest first) a write moves to the archive:
    none until they are more than `SPILL_ABOVE`, then all but the newest `KEPT_IN_FILE`
    (moving a batch at a time makes an append, and its fsync, rare)."""
    if len(on_disk) <= SPILL_ABOVE:
        return ()
    return on_disk[: len(on_disk) - KEPT_IN_FILE]


class EventArchive:
    """The archive of one record file: read, appended to, rewritten (see the module)."""

    def __init__(self, path: Path, decode: Callable[[Any], Any], file_mode: int) -> None:
        self.path = path
        self._decode = decode
        self._file_mode = file_mode
        # Reloads and commits run in threads of their own: the cache is read under this.
        self._lock = threading.Lock()
        self._inode: int | None = None
        self._offset = 0
        self._pairs: list[EventPair] = []

    def read(self) -> tuple[EventPair, ...]:
        """Every whole event in the archive, oldest first, each id once. Raises
        `ValueError` (or `TypeError`, `KeyError`) for a line that is not a valid event."""
        with self._lock:
            return tuple(self._refresh())

    def _refresh(self) -> list[EventPair]:
        try:
            f = open(self.path, "rb")  # noqa: SIM115 - closed below
        except FileNotFoundError:
            self._inode, self._offset, self._pairs = None, 0, []
            return self._pairs
        with f:
            st = os.fstat(f.fileno())
            if st.st_ino != self._inode or st.st_size < self._offset:
                self._inode, self._offset, self._pairs = st.st_ino, 0, []
            f.seek(self._offset)
            data = f.read()
        end = data.rfind(b"\n") + 1
        for line in data[:end].splitlines():
            if not line.strip():
                continue
            event = self._decode(json.loads(line))
            if self._pairs and event.id <= self._pairs[-1][0].id:
                continue  # appended again after a crash before the file was renamed
            self._pairs.append((event, line))
        self._offset += end
        return self._pairs

    def append(self, pairs: Sequence[EventPair]) -> None:
        """Append the events it lacks, durably. Called under the file's exclusive lock."""
        with self._lock:
            have = self._refresh()
            last = have[-1][0].id if have else 0
            new = [pair for pair in pairs if pair[0].id > last]
            if not new:
                return
            created = not self.path.exists()
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT, self._file_mode)
            try:
                # A line cut short by a crash mid-append goes; its events are in the file.
                os.ftruncate(fd, self._offset)
                data = b"".join(line + b"\n" for _, line in new)
                written = 0
                while written < len(data):
                    written += os.pwrite(fd, data[written:], self._offset + written)
                os.fsync(fd)
                self._inode = os.fstat(fd).st_ino
            finally:
                os.close(fd)
            if created:
                fsync_folder(self.path.parent)
            self._pairs.extend(new)
            self._offset += len(data)

    def rewrite(self, pairs: Sequence[EventPair]) -> None:
        """Replace the archive with `pairs` (after a prune), atomically and durably."""
        with self._lock:
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            data = b"".join(line + b"\n" for _, line in pairs)
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, self._file_mode)
                with open(fd, "wb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, self.path)
            except BaseException:
                with contextlib.suppress(OSError):
                    tmp.unlink()
                raise
            fsync_folder(self.path.parent)
            self._inode = os.stat(self.path).st_ino
            self._offset = len(data)
            self._pairs = list(pairs)
