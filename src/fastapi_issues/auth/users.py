"""Users: the models, the async `UserStore` protocol and its errors, and how usernames are
matched. The stores live in `fastapi_issues.auth.stores` (in memory, JSON file) and
`fastapi_issues.auth.sql`; `fastapi_issues.auth.urls.open_user_store` picks one by URL."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
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

__all__ = [
    "AmbiguousUsername",
    "NewUser",
    "PasswordChange",
    "User",
    "UserExists",
    "UserInDB",
    "UserNotFound",
    "UserRegistration",
    "UserStore",
    "UserStoreNotFound",
    "UserUpdate",
    "check_password",
    "normalize_username",
    "pick_user",
    "read_user",
    "revoked_tokens",
    "username_collisions",
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
    is_admin: bool = Field(
        default=False,
        description="May use the user admin routes (`make_user_admin_router`).",
    )

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
    token_generation: int = Field(default=0, ge=0)
    """Tokens carry the generation they were minted in; one older than this is refused.
    Bumped (`revoked_tokens`) by a password change, a log-out everywhere and disabling."""

    def public(self) -> User:
        """The same user without the hash."""
        return User(
            username=self.username,
            email=self.email,
            full_name=self.full_name,
            disabled=self.disabled,
            is_admin=self.is_admin,
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
    is_admin: bool = Field(default=None)  # type: ignore[assignment]
    hashed_password: SecretStr = Field(default=None)  # type: ignore[assignment]
    token_generation: int = Field(default=None, ge=0)  # type: ignore[assignment]

    def changes(self) -> dict[str, Any]:
        """The fields that were set, by name, the hash as a `SecretStr`."""
        return {name: getattr(self, name) for name in self.model_fields_set}


def revoked_tokens(user: UserInDB, **changes: Any) -> UserUpdate:
    """`changes` plus the next token generation of `user`: applied, every token minted
    before is refused (a password change, a log-out everywhere, disabling).

    Read, then written: two revocations at once may both write the same next generation,
    and each still refuses every token minted before it was read.
    """
    return UserUpdate(**changes, token_generation=user.token_generation + 1)


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

    # A whole body that works as it is: Swagger would otherwise send "string", too short.
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "username": "ada",
                    "email": "ada@example.com",
                    "full_name": "Ada Lovelace",
                    "password": "analytical-engine-1843",
                }
            ]
        },
    )

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
        return check_password(value)


def check_password(value: SecretStr) -> SecretStr:
    """`value`, if it may be a user's password; else `ValueError` saying why (never what)."""
    length = len(value.get_secret_value())
    if length < MIN_PASSWORD_LENGTH:
        raise ValueError(f"must be at least {MIN_PASSWORD_LENGTH} characters")
    if length > MAX_PASSWORD_LENGTH:
        raise ValueError(f"must be at most {MAX_PASSWORD_LENGTH} characters")
    check_storable(value.get_secret_value())
    return value


_PASSWORD_SCHEMA: dict[str, Any] = {
    "minLength": MIN_PASSWORD_LENGTH,
    "maxLength": MAX_PASSWORD_LENGTH,
    "pattern": _NO_NUL,
}


class PasswordChange(BaseModel):
    """`POST /users/me/password`: the current password, and the new one."""

    model_config = ConfigDict(
        extra="forbid",
        # The example app's demo password, so that Swagger's example works there.
        json_schema_extra={
            "examples": [{"current_password": "secret", "new_password": "a-longer-passphrase"}]
        },
    )

    current_password: SecretStr
    new_password: SecretStr = Field(
        description=f"At least {MIN_PASSWORD_LENGTH} characters.",
        json_schema_extra=_PASSWORD_SCHEMA,
    )

    @field_validator("new_password")
    @classmethod
    def _new_password(cls, value: SecretStr) -> SecretStr:
        return check_password(value)


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
