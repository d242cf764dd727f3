"""Password hashing with pwdlib's recommended argon2 hasher, always off the event loop."""

from __future__ import annotations

import logging
import os
import secrets

import anyio.to_thread
from anyio import CapacityLimiter
from pwdlib import PasswordHash
from pwdlib.exceptions import UnknownHashError

__all__ = ["Passwords"]

_log = logging.getLogger("fastapi_issues.auth")


class Passwords:
    """Hashes and checks passwords in worker threads.

    Argon2 costs tens of milliseconds of CPU and tens of megabytes of memory per call on
    purpose, so every call runs in a worker thread (the event loop keeps serving other
    requests) and at most `max_concurrency` run at once (a burst of logins queues instead of
    exhausting memory or the shared thread pool).

    Args:
        password_hash: the pwdlib hasher; `PasswordHash.recommended()` (argon2) by default.
            Its first hasher makes new hashes; hashes by the others still verify and are
            replaced on the next successful login.
        max_concurrency: hashes computed at once; the CPU count, at most 8, by default.
    """

    def __init__(
        self, password_hash: PasswordHash | None = None, *, max_concurrency: int | None = None
    ) -> None:
        self._hash = password_hash if password_hash is not None else PasswordHash.recommended()
        if max_concurrency is None:
            max_concurrency = min(8, os.cpu_count() or 1)
        self._limiter = CapacityLimiter(max_concurrency)
        self._dummy_hash: str | None = None

    async def hash(self, password: str) -> str:
        """A new hash of `password`, made by the current hasher."""
        return await anyio.to_thread.run_sync(self._hash.hash, password, limiter=self._limiter)

    async def verify_and_update(self, password: str, hashed: str) -> tuple[bool, str | None]:
        """Check `password` against `hashed`.

        Returns whether it matches and, when it does and `hashed` was made by an older hasher
        or with other parameters than the current ones, a fresh hash to store instead.
        A hash no hasher recognises never matches.
        """
        try:
            verified, updated = await anyio.to_thread.run_sync(
                self._hash.verify_and_update, password, hashed, limiter=self._limiter
            )
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
        await anyio.to_thread.run_sync(
            self._hash.verify, password, self._dummy_hash, limiter=self._limiter
        )
