"""FastAPI dependencies that turn a bearer token into the current user."""

# No `from __future__ import annotations`: FastAPI must see the factory-local Annotated types.

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import HTTPException, status
from fastapi.security import OAuth2PasswordBearer
from starlette.requests import HTTPConnection

from fastapi_issues.auth.settings import AuthSettings
from fastapi_issues.auth.tokens import InvalidToken, decode_access_token, token_generation
from fastapi_issues.auth.users import User, UserExists, UserNotFound, UserStore
from fastapi_issues.routers.kit import ErrorRule, ErrorTable
from fastapi_issues.storage.errors import StorageError

__all__ = ["UserDependency", "current_active_user", "current_user", "websocket_user"]

_log = logging.getLogger("fastapi_issues.auth")

UserDependency = Callable[..., Awaitable[User]]
"""What `current_user` and `current_active_user` return: a dependency resolving a `User`."""

INVALID_CREDENTIALS = "Could not validate credentials"
INACTIVE_USER = "Inactive user"


def credentials_error(detail: str = INVALID_CREDENTIALS) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": "Bearer"}
    )


USER_STORE_ERRORS = ErrorTable(
    [
        ErrorRule(UserExists, status.HTTP_409_CONFLICT, "That username is taken"),
        ErrorRule(UserNotFound, status.HTTP_404_NOT_FOUND, "User not found"),
        ErrorRule(
            StorageError,
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "User store unavailable",
            log="user store failed: %s",
        ),
    ],
    _log,
)
"""What the auth routes answer for each user store error, as `STORE_ERRORS` does for the
issue routes (kept here: the routers do not import the optional auth package)."""


def user_store_unavailable(exc: StorageError) -> HTTPException:
    """The answer to a user store error met outside an endpoint (in a dependency)."""
    answer = USER_STORE_ERRORS.http_error(exc)
    assert answer is not None  # the last row answers every StorageError
    return answer


class _VerifiedTokens:
    """Claims of tokens already verified, so a client's every request does not pay for
    decoding and checking the signature again (a third of an authenticated request).

    Only tokens that passed `decode_access_token` with these settings are kept, and a kept
    one is used only while it has not expired; the oldest are dropped first.
    """

    def __init__(self, settings: AuthSettings, size: int = 1024) -> None:
        self._settings = settings
        self._size = size
        self._claims: dict[str, dict[str, Any]] = {}

    def claims(self, token: str) -> dict[str, Any]:
        claims = self._claims.get(token)
        if claims is not None and time.time() < claims["exp"]:
            return claims
        self._claims.pop(token, None)
        claims = decode_access_token(token, self._settings)  # raises InvalidToken
        if len(self._claims) >= self._size:
            del self._claims[next(iter(self._claims))]
        self._claims[token] = claims
        return claims


def _user_resolver(
    user_store: UserStore, settings: AuthSettings
) -> Callable[[str], Awaitable[User]]:
    tokens = _VerifiedTokens(settings)

    async def resolve(token: str) -> User:
        try:
            claims = tokens.claims(token)
        except InvalidToken as exc:
            _log.debug("rejected a bearer token: %s", exc)
            raise credentials_error() from None
        try:
            user = await user_store.get(claims["sub"])
        except UserNotFound:
            raise credentials_error() from None
        except StorageError as exc:
            raise user_store_unavailable(exc) from exc
        # The user is read on every request anyway: a revocation (a password change, a
        # log-out everywhere, disabling) counts from the next request, in every worker.
        if token_generation(claims) < user.token_generation:
            _log.debug("rejected a revoked bearer token")
            raise credentials_error() from None
        return user.public()

    return resolve


class _BearerUser(OAuth2PasswordBearer):
    """The user named by the request's bearer token, as one dependency.

    Subclassing the scheme, rather than depending on it, keeps the OpenAPI security scheme
    as it is and saves FastAPI a dependency level on every request.
    """

    def __init__(
        self, token_url: str, resolve: Callable[[str], Awaitable[User]], *, active_only: bool
    ) -> None:
        super().__init__(tokenUrl=token_url, scheme_name=OAuth2PasswordBearer.__name__)
        self._resolve = resolve
        self._active_only = active_only

    async def __call__(self, request: HTTPConnection) -> User:  # type: ignore[override]
        token = await super().__call__(request)
        assert token is not None  # auto_error: no token raised 401 already
        user = await self._resolve(token)
        if self._active_only and user.disabled:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, INACTIVE_USER)
        return user


def current_user(
    user_store: UserStore, settings: AuthSettings, *, token_url: str = "token"
) -> UserDependency:
    """A dependency resolving the user named by the request's bearer token.

    A missing, malformed, forged, expired or revoked token (one minted before the user's
    token generation last moved on), or one naming no stored user, gets 401 with
    `WWW-Authenticate: Bearer`. Disabled users pass; see `current_active_user`.

    Args:
        user_store: where users are looked up, on every request (a user disabled or removed
            meanwhile is noticed at once).
        settings: the same settings the tokens were made with.
        token_url: where clients get tokens, for the OpenAPI schema, so Swagger UI's
            Authorize button works. It must match where the auth router is mounted; the
            default `token` (relative, like the crash course's) fits a router at the root.

    The dependency returns a `User`, which has no password hash. Hosts with their own
    authentication do not need this: pass any dependency of theirs as `auth_dependency`.
    """
    return _BearerUser(token_url, _user_resolver(user_store, settings), active_only=False)


def current_active_user(
    user_store: UserStore, settings: AuthSettings, *, token_url: str = "token"
) -> UserDependency:
    """Like `current_user`, and a disabled user gets 400 `Inactive user`.

    Pass it as `auth_dependency` to `make_issue_router`, next to a `make_auth_router` built
    with the same user store and settings. The issue router then records the user's
    `username` as the `reporter` of new issues.
    """
    return _BearerUser(token_url, _user_resolver(user_store, settings), active_only=True)


def websocket_user(
    user_store: UserStore, settings: AuthSettings
) -> Callable[[str], Awaitable[User | None]]:
    """A token resolver for `make_event_router(websocket_user=...)`: the bearer token of a
    WebSocket's first message to the active user it names.

    It checks a token exactly as `current_active_user` does (signature, expiry, revocation,
    the user still stored) and raises the same `HTTPException` for a bad one; a disabled
    user gives None. The WebSocket closes with 1008 either way.
    """
    resolve = _user_resolver(user_store, settings)

    async def user_for_token(token: str) -> User | None:
        user = await resolve(token)
        return None if user.disabled else user

    return user_for_token
