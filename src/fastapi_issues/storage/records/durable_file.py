"""A JSON file of records mirrored in memory, safe for many writers and for crashes.

The file is plain JSON, one record per line, under a first line that names what it holds
and the version of its layout (see `_file_format`); a bare array from before files carried a
version is upgraded on opening, with a copy of it kept beside it. Around it:

- Every write replaces the whole file atomically: a temporary file in the same folder is
  written and fsynced, renamed over the old one with `os.replace`, and the folder is fsynced.
  A crash at any moment leaves either the old or the new file, never half of one.
- Writers across processes take an exclusive `flock` on a sidecar `<name>.lock` file (the data
  file itself cannot carry the lock, since every write replaces it). The lock file also holds a
  generation counter that each write bumps. Readers map it into memory, so noticing another
  process's write costs no system call at all, let alone a reload of the file.
- Writers in one process queue their changes; one flusher applies everything queued so far
  and commits it with a single durable rewrite (group commit). No change is acknowledged
  before the write holding it is on disk.
- Reads come from memory and reload the file only when its generation changed. A read sees
  every write any process acknowledged before it began, also while a write of its own
  process is in flight. An edit that bypasses the lock (a person with an editor) is noticed
  by a stat at most a second later.
- A file that is empty although the counter says it was written to was emptied behind the
  store's back: it is refused like a corrupt one, never served as empty or overwritten.
- A file may carry an event log (`journal`): the events of each write are numbered under
  the journal's lock and written in the same file as the change, by the same rename, so a
  crash keeps both or neither; the rename happens under that lock too, so events become
  visible in the order of their ids (see `EventJournal`).
- A bare array (version 1) is rewritten in the current version by the first commit that
  finds it, which the constructor makes at once: under the lock, after linking the old file
  to `<name>.v1.bak`, so a crash leaves the old file or the new one and one backup.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import itertools
import json
import logging
import mmap
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from fastapi_issues.storage.errors import CorruptStoreError
from fastapi_issues.storage.records._event_archive import EventArchive, to_archive
from fastapi_issues.storage.records._file_format import (
    FOOTER,
    FORMAT_VERSION,
    JOURNAL_FORMAT_VERSION,
    FormatError,
    events_in,
    header,
    journal_footer,
    keep_backup,
    records_in,
)
from fastapi_issues.storage.records._file_lock import fsync_folder, lock_file, unlock_file

T = TypeVar("T")
R = TypeVar("R")

# A change gets the records to edit in place and returns its result. It must raise, if it
# raises at all, before it edits anything: the others in its batch are still committed.
Change = Callable[[dict[str, T]], R]
_Signature = tuple[int, int, int, int]  # generation, inode, size, mtime_ns
_GENERATION_BYTES = 8
_EventPair = tuple[Any, bytes]  # an event and its JSON line
# How stale a read may be after an edit that bypassed the lock and the generation.
_UNCOORDINATED_EDIT_SECONDS = 1.0
_temp_numbers = itertools.count()
_log = logging.getLogger("fastapi_issues")


@dataclass(frozen=True)
class Journaled(Generic[R]):
    """What a change returns when its write records events: its result, and the entries
    the journal numbers and encodes (`EventJournal.number`)."""

    result: R
    entries: tuple[Any, ...]


@dataclass(frozen=True)
class PruneJournal:
    """A change that drops the file's events for which `drop(event)` is true; its result is
    how many were dropped."""

    drop: Callable[[Any], bool]


class EventJournal(Protocol):
    """Numbers the events of the files that share it, across processes."""

    def exclusive(self) -> contextlib.AbstractContextManager[None]:
        """Held while a write numbers its events and until its file is renamed into place."""
        ...

    def number(self, entries: list[Any], floor: int) -> list[tuple[Any, bytes]]:
        """The entries as numbered events (each with its JSON line), ids after every id
        given before and after `floor`; called under `exclusive`."""
        ...

    def published(self, last_id: int) -> None:
        """The events up to `last_id` are on disk: readers may see them now."""
        ...

    def decode(self, item: Any) -> Any:
        """An event as read from a file."""
        ...


@dataclass(frozen=True)
class _Snapshot(Generic[T]):
    records: dict[str, T]
    signature: _Signature
    # Encoded records by key, filled as records are written; unchanged ones are reused.
    # Bytes, so a rewrite joins them without encoding the whole file again.
    lines: dict[str, bytes] = field(default_factory=dict)
    # The file on disk is a bare array: the next commit upgrades it, keeping a backup.
    bare_array: bool = False
    # The event log of a file with a journal, oldest first, and each event's line: those
    # in the file, and the older ones in the archive beside it (pairs of event and line).
    events: tuple[Any, ...] = ()
    event_lines: tuple[bytes, ...] = ()
    last_event_id: int = 0
    archive: tuple[tuple[Any, bytes], ...] = ()
    # The archive's events alone, handed from snapshot to snapshot while the archive is the
    # same: a reader after every write (a live one) would otherwise walk the whole archive.
    archived: tuple[Any, ...] = ()

    @functools.cached_property
    def all_events(self) -> tuple[Any, ...]:
        """Every event, oldest first: worked out once per snapshot, when first read."""
        return self.archived + self.events


def _events_of(pairs: tuple[tuple[Any, bytes], ...]) -> tuple[Any, ...]:
    return tuple(event for event, _ in pairs)


class DurableJSONArray(Generic[T]):
    """The records of one JSON file, keyed by `key(record)`.

    `what` names the records in messages ("issues"); `file_format` is the name the file's
    first line carries, `fastapi-issues.<what>` unless given. `file_mode` is the data file's
    permissions before the umask.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        key: Callable[[T], str],
        decode: Callable[[Any, float], T],
        encode: Callable[[T], str],
        what: str = "records",
        file_mode: int = 0o666,
        file_format: str | None = None,
        journal: EventJournal | None = None,
    ) -> None:
        self.path = Path(path)
        # Plain strings: every read stats the file, and a str skips the Path conversion.
        self._path_str = os.fspath(self.path)
        # Permissions of the data file, before the umask; 0o600 keeps secrets private.
        self._file_mode = file_mode
        self._key = key
        self._decode = decode
        self._encode = encode
        self._what = what
        # What the first line names, e.g. "fastapi-issues.issues"; a file naming something
        # else is refused, so a labels file given as the issues file is never rewritten.
        self._format = file_format if file_format is not None else f"fastapi-issues.{what}"
        self._journal = journal
        self._version = FORMAT_VERSION if journal is None else JOURNAL_FORMAT_VERSION
        self._archive = (
            None
            if journal is None
            else EventArchive(
                self.path.with_name(self.path.name + ".events.jsonl"), journal.decode, file_mode
            )
        )
        self._header = header(self._format, self._version)
        self._lock_path = self.path.with_name(self.path.name + ".lock")
        self._lock_fd: int | None = None
        self._generation_view: mmap.mmap | None = None
        self._next_stat = 0.0
        self._swept = False
        self._pending: list[tuple[Change[T, Any], asyncio.Future[Any]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._last_batch = 0
        self._last_commit_seconds = 0.0
        self._batch_full: asyncio.Event | None = None
        self._reload: asyncio.Future[None] | None = None
        self._publishing = threading.Lock()
        # Loading at construction makes an app refuse to start on a corrupt file.
        self._snapshot: _Snapshot[T] = self._load()
        if self._snapshot.signature[2] >= 0:
            # A file written by something else (the crash course's app, say) has no lock
            # file yet; without one, every read would try to open it.
            with contextlib.suppress(OSError):
                self._lock_file()
        if self._snapshot.bare_array:
            self._upgrade()

    def _upgrade(self) -> None:
        try:
            self._commit([])
        except OSError as exc:
            # A folder this process may not write to: serve the file as it is, as before.
            _log.warning("%s was not upgraded to the current format: %s", self.path, exc)

    # -- reading -------------------------------------------------------------------------

    @property
    def records(self) -> Mapping[str, T]:
        """The records as last seen, without checking the disk. Never mutate them."""
        return self._snapshot.records

    @property
    def events(self) -> tuple[Any, ...]:
        """The file's events as last seen (fresh after `fresh_records`), oldest first,
        with those in its archive."""
        return self._snapshot.all_events

    @property
    def last_event_id(self) -> int:
        """The highest event id given when the file was last seen written."""
        return self._snapshot.last_event_id

    async def fresh_records(self) -> Mapping[str, T]:
        """The records, holding every write any process had acknowledged before the call.

        Cheap when nothing changed: one look at the mapped generation counter (and a stat
        once a second, for edits that bypass the lock). A write of this process in flight
        changes nothing here: what other processes committed meanwhile is read all the same.
        """
        # The counter first: every write acknowledged before this call is counted in it.
        generation = self._read_generation()
        snapshot = self._snapshot
        if snapshot.signature[0] >= generation and not self._stat_due():
            return snapshot.records
        if self._signature() == snapshot.signature:
            return snapshot.records
        await self._catch_up(generation)
        return self._snapshot.records

    def _stat_due(self) -> bool:
        now = time.monotonic()
        if now < self._next_stat:
            return False
        self._next_stat = now + _UNCOORDINATED_EDIT_SECONDS
        return True

    async def _catch_up(self, generation: int) -> None:
        # Reads arriving together share one reload. One already under way may have read the
        # file before the write this read must see; the next one starts after this read's
        # look at the counter, so it cannot miss it. Hence at most two.
        for _ in range(2):
            if self._reload is None or self._reload.done():
                self._reload = asyncio.ensure_future(asyncio.to_thread(self._reload_now))
            try:
                await asyncio.shield(self._reload)
            except CorruptStoreError:
                # Keep refusing on every read until the file is repaired, rather than
                # serve the last good records again until the next stat is due.
                self._next_stat = 0.0
                raise
            if self._snapshot.signature[0] >= generation:
                return

    def _reload_now(self) -> None:
        self._publish(self._load())

    def _publish(self, snapshot: _Snapshot[T]) -> None:
        # Reloads and commits run in threads and may finish in any order; an older snapshot
        # must never replace a newer one, or a read could lose a write it had already seen.
        with self._publishing:
            if _newer(snapshot.signature, self._snapshot.signature):
                self._snapshot = snapshot

    # -- writing -------------------------------------------------------------------------

    async def write(self, change: Change[T, R]) -> R:
        """Apply `change` to the records and return its result once it is on disk."""
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((change, future))
        if self._batch_full is not None and len(self._pending) >= self._last_batch:
            self._batch_full.set()
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_pending())
        return await future

    async def prune_events(self, drop: Callable[[Any], bool]) -> int:
        """Delete the file's events for which `drop(event)` is true, durably; how many."""
        count: int = await self.write(PruneJournal(drop))  # type: ignore[arg-type]
        return count

    async def _flush_pending(self) -> None:
        while self._pending:
            await self._gather_batch()
            batch, self._pending = self._pending, []
            self._last_batch = len(batch)
            started = time.monotonic()
            try:
                outcomes = await asyncio.to_thread(self._commit, [change for change, _ in batch])
            except Exception as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            self._last_commit_seconds = time.monotonic() - started
            for (_, future), (ok, value) in zip(batch, outcomes, strict=True):
                if future.done():  # the caller went away; its change is applied all the same
                    continue
                if ok:
                    future.set_result(value)
                else:
                    future.set_exception(value)

    async def _gather_batch(self) -> None:
        # Each rewrite costs about the same whatever it holds. Writers whose changes were
        # just committed are usually about to send more: rather than rewrite the file for
        # the first few of them, wait for as many as the last batch had, but never longer
        # than half a rewrite takes, so waiting never costs more than it can save.
        if len(self._pending) >= self._last_batch:
            return
        self._batch_full = asyncio.Event()
        try:
            await asyncio.wait_for(self._batch_full.wait(), self._last_commit_seconds / 2)
        except TimeoutError:
            pass
        finally:
            self._batch_full = None

    def _commit(self, changes: list[Change[T, Any]]) -> list[tuple[bool, Any]]:
        with self._exclusive():
            base = self._snapshot
            if self._signature() != base.signature:
                base = self._load()
            records = dict(base.records)
            outcomes: list[tuple[bool, Any]] = []
            events = list(zip(base.events, base.event_lines, strict=True))
            archive = base.archive
            entries: list[Any] = []
            for change in changes:
                try:
                    if isinstance(change, PruneJournal):
                        kept = [pair for pair in events if not change.drop(pair[0])]
                        older = tuple(pair for pair in archive if not change.drop(pair[0]))
                        dropped = len(events) - len(kept) + len(archive) - len(older)
                        outcomes.append((True, dropped))
                        events, archive = kept, older
                        continue
                    result = change(records)
                    if isinstance(result, Journaled):
                        entries.extend(result.entries)
                        result = result.result
                    outcomes.append((True, result))
                except Exception as exc:
                    outcomes.append((False, exc))
            lines: dict[str, bytes] = {}
            old_records, old_lines = base.records, base.lines
            dirty = len(records) != len(old_records)
            for key, record in records.items():
                line = old_lines.get(key)
                if line is None or old_records.get(key) is not record:
                    dirty = dirty or old_records.get(key) is not record
                    line = self._encode(record).encode("utf-8")
                lines[key] = line
            pruned = len(archive) != len(base.archive)
            dirty = dirty or pruned or len(events) != len(base.events) or bool(entries)
            if not dirty and not base.bare_array:
                self._publish(base)
                return outcomes
            if base.bare_array:
                keep_backup(self.path, self._file_mode)
                # The backup's name on disk before the rename can make it the only copy.
                fsync_folder(self.path.parent)
            if self._journal is None:
                self._replace_file(lines.values())
                self._finish(base, _Snapshot(records, base.signature, lines))
                return outcomes
            with self._journal.exclusive():
                last = base.last_event_id
                archive, events = self._archive_events(archive, pruned, events)
                if entries:
                    events += self._journal.number(entries, base.last_event_id)
                    last = max(last, events[-1][0].id)
                event_lines = [line for _, line in events]
                self._replace_file(lines.values(), journal_footer(event_lines, last))
                done = _Snapshot(
                    records,
                    base.signature,
                    lines,
                    events=tuple(event for event, _ in events),
                    event_lines=tuple(event_lines),
                    last_event_id=last,
                    archive=archive,
                    archived=base.archived if archive is base.archive else _events_of(archive),
                )
                self._finish(base, done)
                self._journal.published(last)
            return outcomes

    def _archive_events(
        self, archive: tuple[_EventPair, ...], pruned: bool, events: list[_EventPair]
    ) -> tuple[tuple[_EventPair, ...], list[_EventPair]]:
        """Bring the archive on disk in line with `archive` (rewritten after a prune) and
        move older events of the file to it: the archive and the file's events after.
        Called before the write's own events are added (see `_event_archive`)."""
        assert self._archive is not None
        if pruned:
            self._archive.rewrite(archive)
        moved = to_archive(events)
        if not moved:
            return archive, events
        self._archive.append(moved)
        return archive + tuple(moved), events[len(moved) :]

    def _finish(self, base: _Snapshot[T], written: _Snapshot[T]) -> None:
        self._write_generation(base.signature[0] + 1)
        # Published here, still under the lock and right after the counter moved, so
        # that this process's reads find their own write rather than reload the file.
        self._publish(dataclasses.replace(written, signature=self._signature()))

    def _replace_file(self, lines: Iterable[bytes], footer: bytes = FOOTER) -> None:
        folder = self.path.parent
        # Written under the exclusive lock, so pid and a counter make the name unique.
        tmp = folder / f".{self.path.name}.{os.getpid()}.{next(_temp_numbers)}.tmp"
        try:
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
            try:
                fd = os.open(tmp, flags, self._file_mode)
            except FileNotFoundError:  # the folder went away since the store opened
                folder.mkdir(parents=True, exist_ok=True)
                fd = os.open(tmp, flags, self._file_mode)
            with open(fd, "wb") as f:
                f.write(self._header + b",\n".join(lines) + footer)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        fsync_folder(folder)

    # -- the file, the lock and the generation ------------------------------------------

    def _load(self) -> _Snapshot[T]:
        signature = self._signature()
        try:
            text = self.path.read_text(encoding="utf-8")
            mtime = self.path.stat().st_mtime
        except FileNotFoundError:
            return _Snapshot({}, signature)
        except (OSError, UnicodeDecodeError) as exc:
            raise CorruptStoreError(f"cannot read {self.path}: {exc}") from exc
        if not text.strip():
            return self._empty(signature)
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise self._corrupt(f"not valid JSON ({exc})") from exc
        try:
            items, bare_array = records_in(data, self.path, self._format, self._version)
            raw_events, last = events_in(data) if self._journal else ([], 0)
        except FormatError as exc:
            raise self._corrupt(str(exc)) from exc
        records: dict[str, T] = {}
        for position, item in enumerate(items):
            try:
                record = self._decode(item, mtime)
            except (ValueError, TypeError, KeyError) as exc:
                raise self._corrupt(f"item {position} is not a valid record: {exc}") from exc
            records[self._key(record)] = record
        if self._journal is None:
            return _Snapshot(records, signature, bare_array=bare_array)
        try:
            events = tuple(self._journal.decode(item) for item in raw_events)
            archive = self._archive.read() if self._archive is not None else ()
        except (ValueError, TypeError, KeyError) as exc:
            raise self._corrupt(f"an event is not valid: {exc}") from exc
        # Those also in the file (moved by a write that crashed before its rename) count once.
        older = tuple(pair for pair in archive if not events or pair[0].id < events[0].id)
        # The lines as they were read: a rewrite keeps events byte for byte.
        event_lines = tuple(json.dumps(item).encode() for item in raw_events)
        return _Snapshot(
            records,
            signature,
            bare_array=bare_array,
            events=events,
            event_lines=event_lines,
            last_event_id=last,
            archive=older,
            archived=_events_of(older),
        )

    def _empty(self, signature: _Signature) -> _Snapshot[T]:
        # A new file is empty until its first write; one the counter says was written to
        # has been emptied behind the store's back (a truncation, a failed copy or disk).
        # Serving it as empty would hide everything it held, and the next write would make
        # the loss permanent, leaving comments and labels that point at nothing.
        generation = signature[0]
        if generation == 0:
            return _Snapshot({}, signature)
        raise CorruptStoreError(
            f"{self.path} is empty, but {self._lock_path.name} next to it counts "
            f"{generation} writes to it: it was emptied outside this store. The file was "
            "left as it is; restore it from a backup. To start with no "
            f"{self._what} on purpose, stop every process using it, then write [] into it "
            f"(or delete it together with {self._lock_path.name})."
        )

    def _corrupt(self, detail: str) -> CorruptStoreError:
        return CorruptStoreError(
            f"{self.path}: {detail}. The file was left as it is; "
            "repair it or move it away, then start again."
        )

    def _signature(self) -> _Signature:
        try:
            st = os.stat(self._path_str)
        except FileNotFoundError:
            return (self._read_generation(), 0, -1, 0)  # no file: no inode, no size
        return (self._read_generation(), st.st_ino, st.st_size, st.st_mtime_ns)

    def _lock_file(self) -> int:
        if self._lock_fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._lock_fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        return self._lock_fd

    def _read_generation(self) -> int:
        view = self._generation_view
        if view is None:
            fd = self._lock_fd
            if fd is None:
                try:
                    fd = self._lock_fd = os.open(self._lock_path, os.O_RDWR)
                except FileNotFoundError:
                    return 0
            if os.fstat(fd).st_size < _GENERATION_BYTES:
                # Only a lock file no writer has bumped yet is this short, and growing it
                # to the counter's size with zeros leaves any counter written since intact.
                os.ftruncate(fd, _GENERATION_BYTES)
            view = self._generation_view = mmap.mmap(fd, _GENERATION_BYTES, access=mmap.ACCESS_READ)
        return int.from_bytes(view[:_GENERATION_BYTES], "big")

    def _write_generation(self, generation: int) -> None:
        os.pwrite(self._lock_file(), generation.to_bytes(_GENERATION_BYTES, "big"), 0)

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[None]:
        fd = self._lock_file()
        lock_file(fd)
        try:
            self._remove_stale_temp_files()
            yield
        finally:
            unlock_file(fd)

    def _remove_stale_temp_files(self) -> None:
        # Under the exclusive lock no other writer is mid-write: any temp file is debris
        # left by a crash. Once per store is enough.
        if self._swept:
            return
        self._swept = True
        for tmp in self.path.parent.glob(f".{self.path.name}.*.tmp"):
            with contextlib.suppress(OSError):
                tmp.unlink()

    def close(self) -> None:
        """Release the lock file's descriptor."""
        if self._generation_view is not None:
            self._generation_view.close()
            self._generation_view = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None


def _newer(candidate: _Signature, current: _Signature) -> bool:
    return candidate[0] >= current[0] and candidate != current
