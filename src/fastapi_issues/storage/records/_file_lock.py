"""An exclusive lock on an open file, held across processes: `flock` on POSIX, the first
byte's lock on Windows. Shared by the record files and the JSON store's event numbering
(waiting for it) and the webhooks' delivery lease (never waiting); beside it
`fsync_folder`, which makes a rename durable, shared by the record files and their event
archives."""

from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["fsync_folder", "lock_file", "try_lock_file", "unlock_file"]

if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def lock_file(fd: int) -> None:
        """Wait for and take the lock on `fd`."""
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_LOCK, 1)

    def try_lock_file(fd: int) -> bool:
        """Take the lock on `fd` if no one holds it; never wait."""
        os.lseek(fd, 0, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def unlock_file(fd: int) -> None:
        """Give the lock on `fd` back."""
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def lock_file(fd: int) -> None:
        """Wait for and take the lock on `fd`."""
        fcntl.flock(fd, fcntl.LOCK_EX)

    def try_lock_file(fd: int) -> bool:
        """Take the lock on `fd` if no one holds it; never wait."""
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def unlock_file(fd: int) -> None:
        """Give the lock on `fd` back."""
        fcntl.flock(fd, fcntl.LOCK_UN)


def fsync_folder(folder: Path) -> None:
    """Flush `folder`'s entries to disk, so a file renamed or made in it stays after a
    crash."""
    if sys.platform == "win32":  # pragma: no cover - folders cannot be opened there
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
