"""Password hashing with pwdlib's recommended argon2 hasher, always off the event loop."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from pwdlib import PasswordHash
from pwdlib.exceptions import UnknownHashError

R = TypeVar("R")

__all__ = ["Passwords"]

_log = logging.getLogger("fastapi_issues.auth")


class Passwords:
    """Hashes and checks passwords in worker threads.

    Argon2 costs tens of milliseconds of CPU and tens of megabytes of memory per call on
    purpose, so every call runs in a worker thread of its own small pool (the event loop
    keeps serving other requests) and at most `max_concurrency` run at once (a burst of
    logins queues instead of exhausting memory or the shared thread pool). On Linux those
    threads run at a lower CPU priority, so when the CPU is short the event loop keeps most
    of it: under load logins take longer, and nothing else waits for them.

    Hashes for new accounts (`hash_for_registration`) have a lane of their own: their own
    `registration_concurrency` threads, at the lowest CPU priority. A flood of sign-ups
    queues there, never in front of a login, and when the CPU is short logins get it first.

    Args:
        password_hash: the pwdlib hasher; `PasswordHash.recommended()` (argon2) by default.
            Its first hasher makes new hashes; hashes by the others still verify and are
            replaced on the next successful login.
        max_concurrency: hashes computed at once for logins and everything else; by
            default the number of CPUs this process may run on, at most 8.
        registration_concurrency: hashes computed at once for new accounts (1 by default).
    """

    def __init__(
        self,
        password_hash: PasswordHash | None = None,
        *,
        max_concurrency: int | None = None,
        registration_concurrency: int = 1,
    ) -> None:
        self._hash = password_hash if password_hash is not None else PasswordHash.recommended()
        if max_concurrency is None:
            max_concurrency = min(8, _usable_cpus())
        self._pool = ThreadPoolExecutor(
            max_concurrency, thread_name_prefix="fastapi-issues-passwords", initializer=_yield_cpu
        )
        # Threads are started on first use: an app without registration never has them.
        self._registration_pool = ThreadPoolExecutor(
            registration_concurrency,
            thread_name_prefix="fastapi-issues-registration",
            initializer=_yield_cpu,
            initargs=(_REGISTRATION_NICENESS,),
        )
        self._dummy_hash: str | None = None

    async def _run(self, function: Callable[..., R], *args: Any) -> R:
        return await asyncio.get_running_loop().run_in_executor(self._pool, function, *args)

    async def hash(self, password: str) -> str:
        """A new hash of `password`, made by the current hasher."""
        return await self._run(self._hash.hash, password)

    async def hash_for_registration(self, password: str) -> str:
        """`hash`, in the registration lane: never delays a login's hashing."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._registration_pool, self._hash.hash, password)

    async def verify_and_update(self, password: str, hashed: str) -> tuple[bool, str | None]:
        """Check `password` against `hashed`.

        Returns whether it matches and, when it does and `hashed` was made by an older hasher
        or with other parameters than the current ones, a fresh hash to store instead.
        A hash no hasher recognises never matches.
        """
        try:
            verified, updated = await self._run(self._hash.verify_and_update, password, hashed)
        except UnknownHashError:
            _log.warning("a stored password hash has an unknown format; the login is refused")
            await self.verify_dummy(password)
            return False, None
        return bool(verified), updated

    async def verify_dummy(self, password: str) -> None:
        """Spend the time a real check takes, for a user who does not exist.

        Answering "no such user" faster than "wrong password" would tell an attacker which
        usernames exist.
        """
        if self._dummy_hash is None:
            self._dummy_hash = await self.hash(secrets.token_urlsafe(16))
        await self._run(self._hash.verify, password, self._dummy_hash)


# How much lower than the server's the hashing threads' CPU priority is (Linux nice steps):
# at +10 they get about a tenth of a busy core.
_NICENESS = 10
# New accounts' hashes as low as Linux goes: against a login's hash at +10 they get about
# an eighth of the CPU the two share (weights 15 and 110).
_REGISTRATION_NICENESS = 19


def _usable_cpus() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def _yield_cpu(steps: int = _NICENESS) -> None:
    # Linux sets priorities per thread (argon2's own lane threads inherit it); elsewhere
    # PRIO_PROCESS would lower the whole server, so the threads keep the normal priority.
    if sys.platform != "linux":
        return
    thread = threading.get_native_id()
    try:
        niceness = os.getpriority(os.PRIO_PROCESS, thread)
        os.setpriority(os.PRIO_PROCESS, thread, min(19, niceness + steps))
    except OSError as exc:  # pragma: no cover - a sandbox may forbid it; hashing still works
        _log.debug("could not lower the password threads' priority: %s", exc)
