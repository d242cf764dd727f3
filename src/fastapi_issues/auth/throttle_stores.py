"""Login throttle storages shared by every worker on one machine: a JSON file beside
`users.json`, for the JSON user store. (The SQL one, `SQLThrottleStorage`, lives in
`fastapi_issues.auth.sql`; `throttle_storage_for` picks the one that goes with a user
store.)"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi_issues.auth.stores import JSONFileUserStore
from fastapi_issues.auth.throttle import Failures, InMemoryThrottleStorage, ThrottleStorage
from fastapi_issues.auth.users import UserStore
from fastapi_issues.storage.records.durable_file import DurableJSONArray

__all__ = ["JSONFileThrottleStorage", "throttle_storage_for"]


def throttle_storage_for(user_store: UserStore) -> ThrottleStorage:
    """Where a `LoginThrottle` beside `user_store` keeps its counts: in the same database
    (`SQLUserStore`), in `login-failures.json` beside a JSON user store's file, else in this
    process's memory. The first two are shared by every worker using the store."""
    shared = getattr(user_store, "throttle_storage", None)
    if callable(shared):
        storage: ThrottleStorage = shared()
        return storage
    if isinstance(user_store, JSONFileUserStore):
        return JSONFileThrottleStorage(user_store.path.with_name("login-failures.json"))
    return InMemoryThrottleStorage()


@dataclass(frozen=True)
class _Entry:
    key: str
    count: int
    last: float
    expires: float


def _decode(item: Any, file_mtime: float) -> _Entry:
    if not isinstance(item, dict):
        raise TypeError("expected an object")
    return _Entry(str(item["key"]), int(item["count"]), float(item["last"]), float(item["expires"]))


def _encode(entry: _Entry) -> str:
    return json.dumps(
        {"key": entry.key, "count": entry.count, "last": entry.last, "expires": entry.expires}
    )


class JSONFileThrottleStorage:
    """Failure counts in a JSON file (`login-failures.json` beside `users.json`), changed
    under the file's lock, so every worker on the machine counts together.

    Each change is written durably, like the user store's: a login costs an argon2 hash
    anyway. Expired keys are dropped as changes come; past `max_keys`, the keys whose last
    failure is oldest go first.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_keys < 1:
            raise ValueError("max_keys must be at least 1")
        self._file = DurableJSONArray(
            path,
            key=lambda entry: entry.key,
            decode=_decode,
            encode=_encode,
            what="login-failures",
            file_mode=0o600,
        )
        self.max_keys = max_keys
        self._clock = clock

    @property
    def path(self) -> Path:
        """The JSON file the counts live in."""
        return self._file.path

    async def get(self, key: str) -> Failures | None:
        entry = (await self._file.fresh_records()).get(key)
        if entry is None or entry.expires <= self._clock():
            return None
        return Failures(entry.count, entry.last)

    async def add(self, key: str, now: float, expire_after: float) -> Failures:
        def count(entries: dict[str, _Entry]) -> Failures:
            self._sweep(entries)
            previous = entries.get(key)
            total = (previous.count if previous is not None else 0) + 1
            entries[key] = _Entry(key, total, now, now + expire_after)
            return Failures(total, now)

        return await self._file.write(count)

    async def subtract(self, key: str) -> None:
        def uncount(entries: dict[str, _Entry]) -> None:
            entry = entries.get(key)
            if entry is None:
                return
            if entry.count <= 1 or entry.expires <= self._clock():
                del entries[key]
            else:
                entries[key] = _Entry(key, entry.count - 1, entry.last, entry.expires)

        await self._file.write(uncount)

    async def clear(self, key: str) -> None:
        def forget(entries: dict[str, _Entry]) -> None:
            entries.pop(key, None)

        if key in await self._file.fresh_records():
            await self._file.write(forget)

    def _sweep(self, entries: dict[str, _Entry]) -> None:
        now = self._clock()
        for key in [key for key, entry in entries.items() if entry.expires <= now]:
            del entries[key]
        if len(entries) >= self.max_keys:
            by_age = sorted(entries.values(), key=lambda entry: entry.last)
            for entry in by_age[: len(entries) - self.max_keys + 1]:
                del entries[entry.key]

    def close(self) -> None:
        """Release the lock file's descriptor."""
        self._file.close()

    async def aclose(self) -> None:
        """`close()`, for `StoreLifecycle`."""
        self.close()
