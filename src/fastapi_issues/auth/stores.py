"""The user stores that keep users outside a database: in memory, and in a JSON file."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from fastapi_issues.auth.users import (
    UserExists,
    UserInDB,
    UserUpdate,
    normalize_username,
    pick_user,
    read_user,
)
from fastapi_issues.storage.protocols import StoreLifecycle
from fastapi_issues.storage.records.durable_file import DurableJSONArray

__all__ = ["InMemoryUserStore", "JSONFileUserStore"]


def _taken_by(users: Iterable[str], username: str) -> str | None:
    key = normalize_username(username)
    return next((name for name in users if normalize_username(name) == key), None)


class _NameIndex:
    """Stored usernames by normalised form, rebuilt when the mapping it was built from is
    replaced (the stores replace, never mutate, the mapping when a user is added)."""

    def __init__(self) -> None:
        self._source: Mapping[str, UserInDB] | None = None
        self._by_key: dict[str, list[str]] = {}

    def find(self, users: Mapping[str, UserInDB], username: str) -> UserInDB:
        exact = users.get(username)
        if exact is not None:
            # The fast path: tokens carry the stored name.
            return exact
        if users is not self._source:
            self._by_key = {}
            for name in users:
                self._by_key.setdefault(normalize_username(name), []).append(name)
            self._source = users
        names = self._by_key.get(normalize_username(username), ())
        return pick_user(username, (users[name] for name in names))


def _apply(user: UserInDB, changes: UserUpdate) -> UserInDB:
    return user.model_copy(update=changes.changes())


class InMemoryUserStore(StoreLifecycle):
    """Keeps users in a dict, for tests and demos. Nothing survives the process.

    The users passed in are kept as given, even names that collide, as an old users file
    may hold them.
    """

    def __init__(self, users: Sequence[UserInDB] = ()) -> None:
        self._users = {user.username: user for user in users}
        self._index = _NameIndex()

    async def get(self, username: str) -> UserInDB:
        return self._index.find(self._users, username)

    async def create(self, user: UserInDB) -> UserInDB:
        taken = _taken_by(self._users, user.username)
        if taken is not None:
            raise UserExists(user.username, taken)
        # A new dict, not an edit: the name index notices it.
        self._users = {**self._users, user.username: user}
        return user

    async def update(self, username: str, changes: UserUpdate) -> UserInDB:
        current = await self.get(username)
        updated = _apply(current, changes)
        # Same names, so the name index stays right.
        self._users[current.username] = updated
        return updated

    async def list(self) -> Sequence[UserInDB]:
        return [self._users[name] for name in sorted(self._users)]


def _decode_user(item: Any, file_mtime: float) -> UserInDB:
    if not isinstance(item, dict):
        raise TypeError("expected an object")
    return read_user(item)


def _encode_user(user: UserInDB) -> str:
    record: dict[str, Any] = {
        "username": user.username,
        "email": user.email,
        "full_name": user.full_name,
        "disabled": user.disabled,
        "hashed_password": user.hashed_password.get_secret_value(),
    }
    # Written only when set: an absent field reads as its default, so most records keep
    # the crash course's shape, and older files need no upgrade.
    if user.is_admin:
        record["is_admin"] = True
    if user.token_generation:
        record["token_generation"] = user.token_generation
    return json.dumps(record, ensure_ascii=False)


class JSONFileUserStore(StoreLifecycle):
    """Users in a versioned JSON file, each record shaped like the crash course's user dicts.

    Writes are atomic, durable and safe across processes like `JSONFileIssueStore`'s, and
    every read notices changes other processes made (a user disabled from the CLI is
    disabled for the running app at once). The file is created readable by its owner only.
    A bare array (0.1's file) is upgraded on opening like `JSONFileIssueStore`'s files. A
    corrupt file, or one of a newer format version, makes the constructor raise
    `CorruptStoreError`.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._file = DurableJSONArray(
            path,
            key=lambda user: user.username,
            decode=_decode_user,
            encode=_encode_user,
            what="users",
            file_mode=0o600,
        )
        self._index = _NameIndex()

    @property
    def path(self) -> Path:
        """The JSON file this store reads and writes."""
        return self._file.path

    async def get(self, username: str) -> UserInDB:
        return self._index.find(await self._file.fresh_records(), username)

    async def create(self, user: UserInDB) -> UserInDB:
        def add(users: dict[str, UserInDB]) -> UserInDB:
            # Checked against the records under the file's lock: atomic with the write.
            taken = _taken_by(users, user.username)
            if taken is not None:
                raise UserExists(user.username, taken)
            users[user.username] = user
            return user

        return await self._file.write(add)

    async def update(self, username: str, changes: UserUpdate) -> UserInDB:
        def change(users: dict[str, UserInDB]) -> UserInDB:
            current = users.get(username)
            if current is None:
                # A scan, not the index: these records are being edited.
                current = pick_user(username, users.values())
            updated = _apply(current, changes)
            users[current.username] = updated
            return updated

        return await self._file.write(change)

    async def list(self) -> Sequence[UserInDB]:
        users = await self._file.fresh_records()
        return [users[name] for name in sorted(users)]

    def close(self) -> None:
        """Release the lock file's descriptor."""
        self._file.close()

    async def aclose(self) -> None:
        """`close()`, for `StoreLifecycle`."""
        self.close()
