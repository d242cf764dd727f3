"""The versioned layout of the JSON files, and the upgrade of files from before it.

A file reads, with one record per line:

    {"format": "fastapi-issues.issues", "version": 2, "records": [
    {"id": "...", "title": "...", ...},
    {"id": "...", "title": "...", ...}
    ]}

The first line names what the file holds and the version of its layout, so a person (or
`head -1`) can tell at a glance, and a reader checks both on the parse it does anyway.
Version 1 is the bare JSON array that fastapi-issues 0.1 and the crash course wrote; such a
file is read as it is and rewritten in version 2 on opening, after a copy of it is kept
beside it (`issues.json.v1.bak`). A file of a version newer than this release's is refused.
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
"""The version of the JSON files this release writes (and the newest it reads)."""

# The bare array, from before files carried a version.
_BARE_ARRAY_VERSION = 1
FOOTER = b"\n]}\n"


def header(file_format: str) -> bytes:
    """The first line of a file holding `file_format` records, up to the first record."""
    return (
        f'{{"format": {json.dumps(file_format)}, "version": {FORMAT_VERSION}, "records": [\n'
    ).encode()


class FormatError(ValueError):
    """The file parsed as JSON but is not laid out as a records file."""


def records_in(data: Any, path: Path, file_format: str) -> tuple[list[Any], bool]:
    """The items of a parsed file, and whether it is a bare array due for an upgrade."""
    if isinstance(data, list):
        return data, True
    if not isinstance(data, dict) or "records" not in data:
        raise FormatError(f'expected a JSON array or an object with "records" ({file_format})')
    version, found = data.get("version"), data.get("format")
    if isinstance(version, int) and not isinstance(version, bool) and version > FORMAT_VERSION:
        # Not corrupt, but not ours to read either: a newer release wrote it.
        raise CorruptStoreError(
            f"{path} is in format version {version} of {found}, written by a newer release "
            f"of fastapi-issues; this release reads versions up to {FORMAT_VERSION}. The "
            "file was left as it is; upgrade fastapi-issues to open it."
        )
    if found != file_format or version != FORMAT_VERSION:
        raise FormatError(
            f"expected format {file_format} version {FORMAT_VERSION}, "
            f"found {found!r} version {version!r}"
        )
    records = data["records"]
    if not isinstance(records, list):
        raise FormatError('"records" is not a JSON array')
    return records, False


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
