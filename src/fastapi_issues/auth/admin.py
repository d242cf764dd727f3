"""`make_user_admin_router`: the users, for admins: list, create, disable, enable, promote.

Who is an admin: a user whose stored `is_admin` is true, or whose name is in the `admins`
given (a bootstrap list, e.g. from an environment variable, so the first admin needs no
database edit). Everyone else signed in gets 403; no token, or a revoked one, 401.
"""

# No `from __future__ import annotations`: FastAPI must see the factory-local Annotated types.

from collections.abc import Callable, Iterable, Sequence
from enum import Enum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response, status
from pydantic import SecretStr

from fastapi_issues.auth.accounts import set_admin, set_disabled
from fastapi_issues.auth.dependencies import USER_STORE_ERRORS, current_active_user
from fastapi_issues.auth.passwords import Passwords
from fastapi_issues.auth.settings import AuthSettings
from fastapi_issues.auth.users import (
    USERNAME_PATTERN,
    User,
    UserInDB,
    UserRegistration,
    UserStore,
)
from fastapi_issues.routers.kit import (
    BODY_ERRORS,
    DEFAULT_MAX_BODY_SIZE,
    ErrorMessage,
    NoSecretEchoRoute,
    PageNumber,
    Responses,
    add_route,
    answer_other_methods,
    operation_id,
    reject_ambiguous_json,
    set_page_headers,
)

__all__ = ["NewUserByAdmin", "UserAdminPolicy", "make_user_admin_router"]

UserAdminPolicy = Callable[[User], bool]
"""Whether a signed-in user may use the admin routes."""

NOT_AN_ADMIN = "Only admins may manage users"
MAX_PER_PAGE = 100

Username = Annotated[str, Path(pattern=USERNAME_PATTERN, description="The user's name.")]


class NewUserByAdmin(UserRegistration):
    """A user an admin creates: as at `/register`, and whether they are an admin."""

    is_admin: bool = False


def admins_policy(admins: Iterable[str] = ()) -> UserAdminPolicy:
    """Stored admins (`is_admin`), and the users named in `admins`."""
    named = frozenset(admins)

    def is_admin(user: User) -> bool:
        return user.is_admin or user.username in named

    return is_admin


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorMessage, "description": description}


_GUARDED: Responses = {
    status.HTTP_401_UNAUTHORIZED: _error("Missing, invalid or revoked token."),
    status.HTTP_403_FORBIDDEN: _error("The user is not an admin."),
    status.HTTP_503_SERVICE_UNAVAILABLE: _error("The user store cannot be reached or read."),
}
_ONE_USER: Responses = {**_GUARDED, status.HTTP_404_NOT_FOUND: _error("No such user.")}


def make_user_admin_router(
    user_store: UserStore,
    settings: AuthSettings,
    *,
    admins: Iterable[str] = (),
    policy: UserAdminPolicy | None = None,
    passwords: Passwords | None = None,
    prefix: str = "/api/v1/users",
    token_url: str = "token",
    name: str = "users",
    tags: Sequence[str | Enum] | None = ("Users",),
    max_body_size: int | None = DEFAULT_MAX_BODY_SIZE,
) -> APIRouter:
    """Build the user admin routes, under `prefix` (`/api/v1/users` by default):

    - `GET {prefix}?page=&per_page=`: users by name, `X-Total-Count` and `Link` headers;
    - `POST {prefix}`: create a user (as `/register` takes it, plus `is_admin`), 201;
    - `POST {prefix}/{username}/disable`: disable, revoking their tokens; `.../enable`;
    - `PUT {prefix}/{username}/admin` and `DELETE {prefix}/{username}/admin`: promote,
      demote (no token revoked: the flag is read from the store on every request).

    Args:
        user_store, settings: as given to `make_auth_router`.
        admins: names that are admins whatever the store says: a bootstrap.
        policy: who may use the routes instead (gets the signed-in `User`); by default
            stored admins and `admins`.
        passwords: the hasher for new users' passwords.
        token_url: where the auth router serves `/token`, for the OpenAPI schema.
    """
    may_manage = policy if policy is not None else admins_policy(admins)
    signed_in = current_active_user(user_store, settings, token_url=token_url)

    async def admin(user: Annotated[User, Depends(signed_in)]) -> User:
        if not may_manage(user):
            raise HTTPException(status.HTTP_403_FORBIDDEN, NOT_AN_ADMIN)
        return user

    router = APIRouter(
        prefix=prefix,
        tags=list(tags) if tags else None,
        max_body_size=max_body_size,
        dependencies=[Depends(admin)],
        route_class=NoSecretEchoRoute,
    )
    routes = _AdminRoutes(user_store, passwords if passwords is not None else Passwords())
    served: dict[str, list[str]] = {}
    for path, endpoint, method, operation, extra in routes.table():
        served.setdefault(path, []).append(method)
        add_route(
            router,
            path,
            endpoint,
            method=method,
            router_name=name,
            operation=operation,
            operation_id=operation_id(operation, name, "users"),
            errors=USER_STORE_ERRORS,
            **extra,
        )
    answer_other_methods(router, name, served)
    return router


class _AdminRoutes:
    def __init__(self, users: UserStore, passwords: Passwords) -> None:
        self.users = users
        self.passwords = passwords

    def table(self) -> list[tuple[str, Callable[..., Any], str, str, dict[str, Any]]]:
        one = {"response_model": User, "responses": _ONE_USER}
        return [
            (
                "",
                self.list_users,
                "GET",
                "list_users",
                {"response_model": list[User], "responses": _GUARDED, "summary": "List users"},
            ),
            (
                "",
                self.create_user,
                "POST",
                "create_user",
                {
                    "response_model": User,
                    "status_code": status.HTTP_201_CREATED,
                    "summary": "Create a user",
                    "dependencies": [Depends(reject_ambiguous_json)],
                    "responses": {
                        **_GUARDED,
                        **BODY_ERRORS,
                        status.HTTP_409_CONFLICT: _error("Name taken."),
                    },
                },
            ),
            ("/{username}/disable", self.disable, "POST", "disable_user", one),
            ("/{username}/enable", self.enable, "POST", "enable_user", one),
            ("/{username}/admin", self.promote, "PUT", "make_admin", one),
            ("/{username}/admin", self.demote, "DELETE", "remove_admin", one),
        ]

    async def list_users(
        self,
        request: Request,
        response: Response,
        page: PageNumber = 1,
        per_page: Annotated[int, Query(ge=1, le=MAX_PER_PAGE)] = 30,
    ) -> list[User]:
        every = await self.users.list()
        set_page_headers(request, response, page, per_page, len(every))
        start = (page - 1) * per_page
        return [user.public() for user in every[start : start + per_page]]

    async def create_user(self, payload: NewUserByAdmin) -> User:
        hashed = await self.passwords.hash(payload.password.get_secret_value())
        details = payload.model_dump(exclude={"password"})
        created = await self.users.create(UserInDB(**details, hashed_password=SecretStr(hashed)))
        return created.public()

    async def disable(self, username: Username) -> User:
        return (await set_disabled(self.users, username, True)).public()

    async def enable(self, username: Username) -> User:
        return (await set_disabled(self.users, username, False)).public()

    async def promote(self, username: Username) -> User:
        return (await set_admin(self.users, username, True)).public()

    async def demote(self, username: Username) -> User:
        return (await set_admin(self.users, username, False)).public()
