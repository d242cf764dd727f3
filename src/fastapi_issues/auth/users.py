"""Users: the models, the async `UserStore` protocol and its errors, and the stores that ship
with the package (in memory, and a JSON file beside the issues file)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Protocol, runtime_checkable

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    StringConstraints,
    ValidationError,
    field_validator,
)

from fastapi_issues._usernames import normalize_username
from fastapi_issues.storage.errors import StorageError
from fastapi_issues.storage.protocols import StoreLifecycle
from fastapi_issues.storage.records.durable_file import DurableJSONArray
from fastapi_issues.storage.urls import StoreURL

__all__ = [
    "AmbiguousUsername",
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
    "normalize_username",
    "open_user_store",
    "username_collisions",
    "users_path_for",
]

USERNAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,63}$"
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024

# No NUL, said as patterns so the OpenAPI schema states what is refused (`check_storable`
# refuses lone surrogates too, which JSON schema patterns cannot name).
_NO_NUL = r"^[^\x00]*$"
Email = Annotated[str, StringConstraints(max_length=254, pattern=r"^[^@\s\x00]+@[^@\s\x00]+$")]
FullName = Annotated[str, StringConstraints(max_length=200)]


# -- errors ------------------------------------------------------------------------------


class UserNotFound(StorageError):
    """No user has the given username."""

    def __init__(self, username: str) -> None:
        super().__init__(f"no user named {username!r}")
        self.username = username


class AmbiguousUsername(UserNotFound):
    """No user has exactly this name, and several have names that normalise like it.

    Only users stored before names were unique case-insensitively can collide; the stores
    never pick one of them (`fastapi-issues user check` lists them). A `UserNotFound`, so
    that code written before it refuses the login as for an unknown name.
    """

    def __init__(self, username: str, candidates: Sequence[str]) -> None:
        StorageError.__init__(
            self, f"the name {username!r} matches several users: {', '.join(candidates)}"
        )
        self.username = username
        self.candidates = tuple(candidates)


class UserExists(StorageError):
    """A user with this username, or one that normalises like it, already exists."""

    def __init__(self, username: str, existing: str | None = None) -> None:
        if existing is None or existing == username:
            message = f"a user named {username!r} already exists"
        else:
            message = f"the name {username!r} is taken by the user {existing!r}"
        super().__init__(message)
        self.username = username
        self.existing = existing if existing is not None else username


# -- usernames ---------------------------------------------------------------------------


def pick_user(username: str, candidates: Iterable[UserInDB]) -> UserInDB:
    """The user `username` names among `candidates` (users whose names may normalise like
    it): the exact name first, else the only one that normalises alike.

    Exact first, because names that collide were all made before names were unique, and
    each of those users still logs in and is looked up by the name they always had; only
    a name that is none of them exactly, and fits several, is refused (`AmbiguousUsername`).
    """
    key = normalize_username(username)
    matches = []
    for user in candidates:
        if user.username == username:
            return user
        if normalize_username(user.username) == key:
            matches.append(user)
    if not matches:
        raise UserNotFound(username)
    if len(matches) > 1:
        raise AmbiguousUsername(username, sorted(user.username for user in matches))
    return matches[0]


def username_collisions(usernames: Iterable[str]) -> list[list[str]]:
    """Groups of stored usernames that normalise alike, each sorted, in the order of their
    normalised form. Empty when every name is unique case-insensitively."""
    groups: dict[str, list[str]] = {}
    for name in usernames:
        groups.setdefault(normalize_username(name), []).append(name)
    return [sorted(groups[key]) for key in sorted(groups) if len(groups[key]) > 1]


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


def check_storable(value: str) -> str:
    """`value`, if every store can keep it; else `ValueError` (a 422 at the routes).

    PostgreSQL text cannot hold NUL, and no store can encode a lone surrogate as UTF-8: let
    through, they made the write fail as a 503 instead of the client's mistake.
    """
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    if any("\ud800" <= char <= "\udfff" for char in value):
        raise ValueError("must not contain unpaired surrogates")
    return value


class NewUser(BaseModel):
    """What is checked about a new user before it is stored, password aside."""

    model_config = ConfigDict(extra="forbid")

    username: Annotated[str, StringConstraints(pattern=USERNAME_PATTERN)] = Field(
        description="1 to 64 letters, digits or `_.@+-`, starting with a letter or digit.",
        examples=["ada"],
    )
    email: Email | None = Field(default=None, examples=["ada@example.com"])
    # The pattern is stated for clients; `_storable` enforces it, with a clearer message.
    full_name: FullName | None = Field(
        default=None, examples=["Ada Lovelace"], json_schema_extra={"pattern": _NO_NUL}
    )

    @field_validator("username", "email", "full_name")
    @classmethod
    def _storable(cls, value: str | None) -> str | None:
        return None if value is None else check_storable(value)


class UserRegistration(NewUser):
    """A new user with a plain password, as `POST /register` and the CLI take it."""

    password: SecretStr = Field(
        description=f"At least {MIN_PASSWORD_LENGTH} characters.",
        json_schema_extra={
            "minLength": MIN_PASSWORD_LENGTH,
            "maxLength": MAX_PASSWORD_LENGTH,
            "pattern": _NO_NUL,
        },
    )

    @field_validator("password")
    @classmethod
    def _password_length(cls, value: SecretStr) -> SecretStr:
        length = len(value.get_secret_value())
        if length < MIN_PASSWORD_LENGTH:
            raise ValueError(f"must be at least {MIN_PASSWORD_LENGTH} characters")
        if length > MAX_PASSWORD_LENGTH:
            raise ValueError(f"must be at most {MAX_PASSWORD_LENGTH} characters")
        check_storable(value.get_secret_value())
        return value


# -- the protocol ------------------------------------------------------------------------


@runtime_checkable
class UserStore(Protocol):
    """Where users live. Every method is async; stores know nothing about HTTP or hashing.

    Usernames are unique in their normalised form (`normalize_username`: NFKC, case-folded)
    and kept in the form they were given. Lookups take any form: the user with exactly that
    name, else the only one whose name normalises alike (`pick_user`). Implement these four
    methods and run `fastapi_issues.testing.UserStoreContract` against your class; to be
    opened and closed with the app, implement `StoreLifecycle` too.
    """

    async def get(self, username: str) -> UserInDB:
        """Return the user `username` names (see `pick_user`); raise `UserNotFound` when
        there is none, `AmbiguousUsername` when several old users fit and none exactly."""
        ...

    async def create(self, user: UserInDB) -> UserInDB:
        """Store a new user and return it; raise `UserExists` if a stored name normalises
        like its name.

        The check and the write are one atomic step.
        """
        ...

    async def update(self, username: str, changes: UserUpdate) -> UserInDB:
        """Apply the fields set in `changes` to the user `username` names, as `get` finds
        it, and return the user as stored.

        Raise `UserNotFound` (or `AmbiguousUsername`) as `get` does.
        """
        ...

    async def list(self) -> Sequence[UserInDB]:
        """Every user, ordered by username."""
        ...


def _apply(user: UserInDB, changes: UserUpdate) -> UserInDB:
    return user.model_copy(update=changes.changes())


# -- stores ------------------------------------------------------------------------------


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


def read_user(record: Any) -> UserInDB:
    """A stored record as a `UserInDB`; `ValueError` naming the bad fields, never their
    values (which may be the password hash), when it is not one."""
    try:
        return UserInDB.model_validate(record)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(part) for part in error['loc']) or 'record'}: {error['msg']}"
            for error in exc.errors(include_input=False, include_url=False)
        ]
        raise ValueError("; ".join(problems)) from None


def _decode_user(item: Any, file_mtime: float) -> UserInDB:
    if not isinstance(item, dict):
        raise TypeError("expected an object")
    return read_user(item)


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


class JSONFileUserStore(StoreLifecycle):
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


def users_path_for(issues_path: str | os.PathLike[str]) -> Path:
    """Where the users of a JSON issues file live: `users.json` in the same folder."""
    return Path(issues_path).with_name("users.json")


def open_user_store(url: str | StoreURL, *, create: bool = True) -> UserStore:
    """The user store that goes with the issue store `url` names.

    - `memory://`: an `InMemoryUserStore`;
    - `json:///path/issues.json`, or a plain path: a `JSONFileUserStore` on `users.json`
      in the same folder as the issues file;
    - `sqlite:///...` or `postgresql://...`: a `SQLUserStore` in the same database.

    With `create=False`, raise `UserStoreNotFound` when the store does not exist yet instead
    of starting an empty one (the CLI uses this for commands that only read or change users).
    """
    where = url if isinstance(url, StoreURL) else StoreURL.parse(url, what="user store")
    if where.is_sql:
        return _open_sql_user_store(where, create=create)
    if where.path is None:
        return InMemoryUserStore()
    users_path = users_path_for(where.path)
    if not create and not users_path.exists():
        raise UserStoreNotFound(f"no users file at {users_path}")
    return JSONFileUserStore(users_path)


def _open_sql_user_store(where: StoreURL, *, create: bool) -> UserStore:
    try:
        from fastapi_issues.auth.sql import SQLUserStore
    except ImportError as exc:
        raise where.missing_extra(exc) from exc
    if not create and where.path is not None and not Path(where.path).is_file():
        raise UserStoreNotFound(f"no SQLite database at {where.path}")
    try:
        # The engine imports the driver (aiosqlite, asyncpg) when it is made.
        return SQLUserStore(where.text)
    except ImportError as exc:
        raise where.missing_extra(exc) from exc
