"""The versioned layout of the JSON files, and the upgrade of files from before it.

A file reads, with one record per line:

    {"format": "fastapi-issues.issues", "version": 2, "records": [
    {"id": "...", "title": "...", ...},
    {"id": "...", "title": "...", ...}
    ]}

The first line names what the file holds and the version of its layout, so a person (or
`head -1`) can tell at a glance, and a reader checks both on the parse it does anyway.
Version 1 is the bare JSON array that fastapi-issues 0.1 and the crash course wrote; such a
file is read as it is and rewritten in the current version on opening, after a copy of it
is kept beside it (`issues.json.v1.bak`). A file of a version newer than this release's is
refused.

Version 3 (the issues and comments files; labels and users stay at 2) adds the event log:
after the records, the events of the writes to this file, and the highest event id given
when the file was written, so that ids are never reused, also once pruned:

    ...
    ], "events": [
    {"id": 1, "type": "issue.created", ...}
    ], "last_event_id": 1}

Version 4 has the same layout, but keeps only its newest events: older ones are in an
append-only archive beside it, `<name>.events.jsonl` (see `_event_archive`), so a write
rewrites a bounded amount. A version 3 file reads as one of version 4 without an archive, a
version 2 file as one with no events; either is written in version 4 by its next write. A
release that reads up to version 3 refuses a version 4 file rather than lose its archive.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

from fastapi_issues.storage.errors import CorruptStoreError

FORMAT_VERSION = 2
"""The version of the files without an event log (labels, users) this release writes."""

JOURNAL_FORMAT_VERSION = 4
"""The version of the files with an event log (issues, comments): 2 plus the newest events,
the older ones in an archive beside the file."""

_ALL_EVENTS_IN_FILE_VERSION = 3

# The bare array, from before files carried a version.
_BARE_ARRAY_VERSION = 1
FOOTER = b"\n]}\n"


def header(file_format: str, version: int = FORMAT_VERSION) -> bytes:
    """The first line of a file holding `file_format` records, up to the first record."""
    return (f'{{"format": {json.dumps(file_format)}, "version": {version}, "records": [\n').encode()


def journal_footer(event_lines: list[bytes], last_event_id: int) -> bytes:
    """What follows the records in a version 3 file: its events and the id counter."""
    events = b",\n".join(event_lines)
    return b'\n], "events": [\n' + events + b'\n], "last_event_id": %d}\n' % last_event_id


class FormatError(ValueError):
    """The file parsed as JSON but is not laid out as a records file."""


def records_in(
    data: Any, path: Path, file_format: str, newest: int = FORMAT_VERSION
) -> tuple[list[Any], bool]:
    """The items of a parsed file, and whether it is in an older version due for an upgrade
    (a bare array). `newest` is the
    version this release writes for the file."""
    if isinstance(data, list):
        return data, True
    if not isinstance(data, dict) or "records" not in data:
        raise FormatError(f'expected a JSON array or an object with "records" ({file_format})')
    version, found = data.get("version"), data.get("format")
    if isinstance(version, int) and not isinstance(version, bool) and version > newest:
        # Not corrupt, but not ours to read either: a newer release wrote it.
        raise CorruptStoreError(
            f"{path} is in format version {version} of {found}, written by a newer release "
            f"of fastapi-issues; this release reads versions up to {newest}. The "
            "file was left as it is; upgrade fastapi-issues to open it."
        )
    readable = {FORMAT_VERSION, newest}
    if newest == JOURNAL_FORMAT_VERSION:
        readable.add(_ALL_EVENTS_IN_FILE_VERSION)
    if found != file_format or version not in readable:
        raise FormatError(
            f"expected format {file_format} version {newest}, found {found!r} version {version!r}"
        )
    records = data["records"]
    if not isinstance(records, list):
        raise FormatError('"records" is not a JSON array')
    return records, False


def events_in(data: Any) -> tuple[list[Any], int]:
    """The events of a parsed file of version 3 or 4 and its id counter (none in older
    files)."""
    if not isinstance(data, dict):
        return [], 0
    events, last = data.get("events", []), data.get("last_event_id", 0)
    if not isinstance(events, list):
        raise FormatError('"events" is not a JSON array')
    if not isinstance(last, int) or isinstance(last, bool) or last < 0:
        raise FormatError('"last_event_id" is not a count')
    return events, last


def keep_backup(path: Path, file_mode: int) -> Path:
    """Keep the file at `path` under a backup name beside it before it is replaced.

    Called under the store's exclusive lock. An existing backup is never overwritten: one
    holding exactly this file (left by an upgrade that crashed before its rename) is kept as
    the backup, any other gets a numbered neighbour. The caller fsyncs the folder before
    it replaces the file, so the backup's name is on disk first.
    """
    old = path.read_bytes()
    for number in range(1, 1000):
        suffix = "" if number == 1 else f"-{number}"
        backup = path.with_name(f"{path.name}.v{_BARE_ARRAY_VERSION}{suffix}.bak")
        try:
            # A hard link is atomic, never replaces a file and keeps mode and mtime.
            os.link(path, backup)
            return backup
        except FileExistsError:
            if _holds(backup, old):
                return backup
        except OSError:  # no hard links here (some network or FAT file systems)
            if not backup.exists():
                _copy(path, backup, file_mode)
                return backup
            if _holds(backup, old):
                return backup
    raise CorruptStoreError(f"{path}: too many backups beside it; move some away")


def _holds(backup: Path, content: bytes) -> bool:
    try:
        return backup.read_bytes() == content
    except OSError:
        return False


def _copy(path: Path, backup: Path, file_mode: int) -> None:
    tmp = backup.with_name(f".{backup.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, file_mode)
        with open(fd, "wb") as f, path.open("rb") as source:
            shutil.copyfileobj(source, f)
            f.flush()
            os.fsync(f.fileno())
        shutil.copystat(path, tmp)
        os.replace(tmp, backup)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
