"""Users: the models, the async `UserStore` protocol and its errors, and the stores that ship
with the package (in memory, and a JSON file beside the issues file)."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, SecretStr, StringConstraints, field_validator

from fastapi_issues.storage._durable_file import DurableJSONArray
from fastapi_issues.storage.base import StorageError
from fastapi_issues.storage.urls import is_sql_url, sql_extra_missing, sqlite_path

__all__ = [
    "InMemoryUserStore",
    "JSONFileUserStore",
    "NewUser",
    "User",
    "UserExists",
    "UserInDB",
    "UserNotFound",
    "UserRegistration",
    "UserStore",
    "UserStoreNotFound",
    "UserUpdate",
    "open_user_store",
    "users_path_for",
]

USERNAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,63}$"
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024

Email = Annotated[str, StringConstraints(max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")]
FullName = Annotated[str, StringConstraints(max_length=200)]


# -- errors ------------------------------------------------------------------------------


class UserNotFound(StorageError):
    """No user has the given username."""

    def __init__(self, username: str) -> None:
        super().__init__(f"no user named {username!r}")
        self.username = username


class UserExists(StorageError):
    """A user with this username already exists."""

    def __init__(self, username: str) -> None:
        super().__init__(f"a user named {username!r} already exists")
        self.username = username


class UserStoreNotFound(StorageError):
    """The user store was asked to exist already, and does not."""


# -- models ------------------------------------------------------------------------------


class User(BaseModel):
    """A user as the API shows it and as auth dependencies return it: no password hash."""

    model_config = ConfigDict(frozen=True)

    username: str
    email: str | None = None
    full_name: str | None = None
    disabled: bool = False

    @field_validator("disabled", mode="before")
    @classmethod
    def _null_is_enabled(cls, value: Any) -> Any:
        # The crash course's user records allow `"disabled": null`.
        return False if value is None else value


class UserInDB(User):
    """A stored user, with the password hash. Never return it from a route.

    The hash is a `SecretStr`: `repr`, `str` and JSON dumps show `**********`; stores read it
    with `hashed_password.get_secret_value()`.
    """

    hashed_password: SecretStr

    def public(self) -> User:
        """The same user without the hash."""
        return User(
            username=self.username,
            email=self.email,
            full_name=self.full_name,
            disabled=self.disabled,
        )


class UserUpdate(BaseModel):
    """Changes to a stored user: only the fields set are changed.

    Partial on purpose: a login that re-hashes a password must not undo a `disabled` set
    meanwhile by someone else.
    """

    model_config = ConfigDict(frozen=True)

    email: str | None = None
    full_name: str | None = None
    disabled: bool = Field(default=None)  # type: ignore[assignment]
    hashed_password: SecretStr = Field(default=None)  # type: ignore[assignment]

    def changes(self) -> dict[str, Any]:
        """The fields that were set, by name, the hash as a `SecretStr`."""
        return {name: getattr(self, name) for name in self.model_fields_set}


class NewUser(BaseModel):
    """What is checked about a new user before it is stored, password aside."""

    model_config = ConfigDict(extra="forbid")

    username: Annotated[str, StringConstraints(pattern=USERNAME_PATTERN)] = Field(
        description="1 to 64 letters, digits or `_.@+-`, starting with a letter or digit.",
        examples=["ada"],
    )
    email: Email | None = Field(default=None, examples=["ada@example.com"])
    full_name: FullName | None = Field(default=None, examples=["Ada Lovelace"])


class UserRegistration(NewUser):
    """A new user with a plain password, as `POST /register` and the CLI take it."""

    password: SecretStr = Field(
        description=f"At least {MIN_PASSWORD_LENGTH} characters.",
        json_schema_extra={"minLength": MIN_PASSWORD_LENGTH, "maxLength": MAX_PASSWORD_LENGTH},
    )

    @field_validator("password")
    @classmethod
    def _password_length(cls, value: SecretStr) -> SecretStr:
        length = len(value.get_secret_value())
        if length < MIN_PASSWORD_LENGTH:
            raise ValueError(f"must be at least {MIN_PASSWORD_LENGTH} characters")
        if length > MAX_PASSWORD_LENGTH:
            raise ValueError(f"must be at most {MAX_PASSWORD_LENGTH} characters")
        return value


# -- the protocol ------------------------------------------------------------------------


@runtime_checkable
class UserStore(Protocol):
    """Where users live. Every method is async; stores know nothing about HTTP or hashing.

    Usernames are compared exactly (case-sensitively). Implement these four methods and run
    `fastapi_issues.testing.UserStoreContract` against your class.
    """

    async def get(self, username: str) -> UserInDB:
        """Return one user; raise `UserNotFound` when there is none."""
        ...

    async def create(self, user: UserInDB) -> UserInDB:
        """Store a new user and return it; raise `UserExists` if the username is taken.

        The check and the write are one atomic step.
        """
        ...

    async def update(self, username: str, changes: UserUpdate) -> UserInDB:
        """Apply the fields set in `changes` and return the user as stored.

        Raise `UserNotFound` when there is no such user.
        """
        ...

    async def list(self) -> Sequence[UserInDB]:
        """Every user, ordered by username."""
        ...


def _apply(user: UserInDB, changes: UserUpdate) -> UserInDB:
    return user.model_copy(update=changes.changes())


# -- stores ------------------------------------------------------------------------------


class InMemoryUserStore:
    """Keeps users in a dict, for tests and demos. Nothing survives the process."""

    def __init__(self, users: Sequence[UserInDB] = ()) -> None:
        self._users = {user.username: user for user in users}

    async def get(self, username: str) -> UserInDB:
        try:
            return self._users[username]
        except KeyError:
            raise UserNotFound(username) from None

    async def create(self, user: UserInDB) -> UserInDB:
        if user.username in self._users:
            raise UserExists(user.username)
        self._users[user.username] = user
        return user

    async def update(self, username: str, changes: UserUpdate) -> UserInDB:
        updated = _apply(await self.get(username), changes)
        self._users[username] = updated
        return updated

    async def list(self) -> Sequence[UserInDB]:
        return [self._users[name] for name in sorted(self._users)]


def _decode_user(item: Any, file_mtime: float) -> UserInDB:
    if not isinstance(item, dict):
        raise TypeError("expected an object")
    return UserInDB.model_validate(item)


def _encode_user(user: UserInDB) -> str:
    return json.dumps(
        {
            "username": user.username,
            "email": user.email,
            "full_name": user.full_name,
            "disabled": user.disabled,
            "hashed_password": user.hashed_password.get_secret_value(),
        },
        ensure_ascii=False,
    )


class JSONFileUserStore:
    """Users in a JSON array file, each record shaped like the crash course's user dicts.

    Writes are atomic, durable and safe across processes like `JSONFileIssueStore`'s, and
    every read notices changes other processes made (a user disabled from the CLI is
    disabled for the running app at once). The file is created readable by its owner only.
    A corrupt file makes the constructor raise `CorruptStoreError`.
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

    @property
    def path(self) -> Path:
        """The JSON file this store reads and writes."""
        return self._file.path

    async def get(self, username: str) -> UserInDB:
        user = (await self._file.fresh_records()).get(username)
        if user is None:
            raise UserNotFound(username)
        return user

    async def create(self, user: UserInDB) -> UserInDB:
        def add(users: dict[str, UserInDB]) -> UserInDB:
            if user.username in users:
                raise UserExists(user.username)
            users[user.username] = user
            return user

        return await self._file.write(add)

    async def update(self, username: str, changes: UserUpdate) -> UserInDB:
        def change(users: dict[str, UserInDB]) -> UserInDB:
            current = users.get(username)
            if current is None:
                raise UserNotFound(username)
            updated = _apply(current, changes)
            users[username] = updated
            return updated

        return await self._file.write(change)

    async def list(self) -> Sequence[UserInDB]:
        users = await self._file.fresh_records()
        return [users[name] for name in sorted(users)]

    def close(self) -> None:
        """Release the lock file's descriptor."""
        self._file.close()


def users_path_for(issues_path: str | os.PathLike[str]) -> Path:
    """Where the users of a JSON issues file live: `users.json` in the same folder."""
    return Path(issues_path).with_name("users.json")


def open_user_store(url: str, *, create: bool = True) -> UserStore:
    """The user store that goes with the issue store `url` names.

    - `memory://`: an `InMemoryUserStore`;
    - `json:///path/issues.json`, or a plain path: a `JSONFileUserStore` on `users.json`
      in the same folder as the issues file;
    - `sqlite:///...` or `postgresql://...`: a `SQLUserStore` in the same database.

    With `create=False`, raise `UserStoreNotFound` when the store does not exist yet instead
    of starting an empty one (the CLI uses this for commands that only read or change users).
    """
    if url == "memory://":
        return InMemoryUserStore()
    if is_sql_url(url):
        return _open_sql_user_store(url, create=create)
    if url.startswith("json://"):
        path = url.removeprefix("json://")
    elif "://" in url:
        scheme = url.split("://", 1)[0]
        raise ValueError(f"unsupported user store URL scheme {scheme!r} in {url!r}")
    else:
        path = url
    users_path = users_path_for(path)
    if not create and not users_path.exists():
        raise UserStoreNotFound(f"no users file at {users_path}")
    return JSONFileUserStore(users_path)


def _open_sql_user_store(url: str, *, create: bool) -> UserStore:
    try:
        from fastapi_issues.auth.sql import SQLUserStore
    except ImportError as exc:
        raise sql_extra_missing(url, exc) from exc
    path = sqlite_path(url)
    if not create and path is not None and not Path(path).is_file():
        raise UserStoreNotFound(f"no SQLite database at {path}")
    return SQLUserStore(url)
