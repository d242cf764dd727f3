"""Password hashing yields the CPU to the event loop when both want it."""

from __future__ import annotations

import os
import sys
import threading

import pytest
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from fastapi_issues.auth import Passwords

pytestmark = pytest.mark.anyio


@pytest.mark.skipif(
    sys.platform != "linux", reason="thread priorities are per thread on Linux only"
)
async def test_hashing_threads_run_at_a_lower_priority_than_the_loop() -> None:
    seen: list[tuple[int, int]] = []

    class Recording(Argon2Hasher):
        def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
            thread = threading.get_native_id()
            seen.append((thread, os.getpriority(os.PRIO_PROCESS, thread)))
            return super().hash(password, salt=salt)

    passwords = Passwords(PasswordHash((Recording(time_cost=1, memory_cost=1024),)))
    await passwords.hash("correct horse")
    loop_thread = threading.get_native_id()
    [(thread, niceness)] = seen
    assert thread != loop_thread
    assert niceness > os.getpriority(os.PRIO_PROCESS, loop_thread)


async def test_by_default_as_many_hashes_at_once_as_usable_cpus() -> None:
    passwords = Passwords()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert passwords._pool._max_workers == min(8, usable or 1)
