"""The logged-in user's own account routes, beside `/users/me`: `POST /users/me/password`
and `POST /users/me/logout-all`. Registered by `make_auth_router`."""

# No `from __future__ import annotations`: FastAPI must see the factory-local Annotated types.

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status

from fastapi_issues.auth._login import Authenticator
from fastapi_issues.auth.accounts import change_password, log_out_everywhere
from fastapi_issues.auth.dependencies import USER_STORE_ERRORS, UserDependency
from fastapi_issues.auth.passwords import Passwords
from fastapi_issues.auth.settings import AuthSettings
from fastapi_issues.auth.throttle import LoginThrottle, LoginThrottled, throttled_login
from fastapi_issues.auth.tokens import create_access_token
from fastapi_issues.auth.users import PasswordChange, User, UserInDB, UserStore
from fastapi_issues.routers.kit import (
    BODY_ERRORS,
    ErrorMessage,
    Responses,
    add_route,
    operation_id,
    reject_ambiguous_json,
)

WRONG_PASSWORD = "The current password is wrong"


def _error(description: str, **more: Any) -> dict[str, Any]:
    return {"model": ErrorMessage, "description": description, **more}


_COMMON: Responses = {
    status.HTTP_401_UNAUTHORIZED: _error(
        "Missing, invalid or revoked token.",
        headers={"WWW-Authenticate": {"schema": {"type": "string"}}},
    ),
    status.HTTP_503_SERVICE_UNAVAILABLE: _error("The user store cannot be reached or read."),
}


class AccountRoutes:
    """What the account routes need: the store, the hasher, the token settings, and the
    dependency resolving the logged-in user."""

    def __init__(
        self,
        users: UserStore,
        passwords: Passwords,
        settings: AuthSettings,
        throttle: LoginThrottle | None,
    ) -> None:
        self.users = users
        self.passwords = passwords
        self.settings = settings
        self.throttle = throttle
        self.authenticate = Authenticator(users, passwords)

    def token_for(self, user: UserInDB, response: Response) -> dict[str, Any]:
        """A fresh access token for `user`, in their current generation."""
        # RFC 6749 §5.1: responses carrying tokens must not be cached.
        response.headers["Cache-Control"] = "no-store"
        response.headers["Pragma"] = "no-cache"
        return {
            "access_token": create_access_token(
                user.username, self.settings, generation=user.token_generation
            ),
            "token_type": "bearer",
            "expires_in": int(self.settings.token_lifetime.total_seconds()),
        }

    async def check_current(self, username: str, password: str, address: str | None) -> None:
        """Raise 403 unless `password` is `username`'s; counted by the login throttle, so
        this route is no way around it."""
        try:
            if self.throttle is None:
                user = await self.authenticate(username, password)
            else:
                user = await throttled_login(
                    self.throttle,
                    username,
                    address,
                    lambda: self.authenticate(username, password),
                )
        except LoginThrottled as exc:
            raise HTTPException(
                status.HTTP_429_TOO_MANY_REQUESTS,
                "Too many failed logins; try again later",
                headers={"Retry-After": str(exc.retry_after)},
            ) from None
        if user is None:
            # 403, not 400: the request is well formed; the user failed to prove it is them.
            raise HTTPException(status.HTTP_403_FORBIDDEN, WRONG_PASSWORD)


def add_account_routes(
    router: APIRouter,
    name: str,
    routes: AccountRoutes,
    active_user: UserDependency,
    token_model: type[Any],
) -> None:
    """Register `POST /users/me/password` and `POST /users/me/logout-all` on `router`."""
    add_route(
        router,
        "/users/me/password",
        _password_endpoint(routes, active_user),
        method="POST",
        router_name=name,
        operation="change_password",
        operation_id=operation_id("change_password", name, "auth"),
        errors=USER_STORE_ERRORS,
        response_model=token_model,
        summary="Change the logged-in user's password",
        description=(
            "Needs the current password. Every token issued before, on any device, stops "
            "working; the answer carries a fresh token for this client to go on with."
        ),
        dependencies=[Depends(reject_ambiguous_json)],
        responses={
            **_COMMON,
            **BODY_ERRORS,
            status.HTTP_403_FORBIDDEN: _error("The current password is wrong."),
            status.HTTP_429_TOO_MANY_REQUESTS: _error("Too many failed password checks."),
        },
    )
    add_route(
        router,
        "/users/me/logout-all",
        _logout_all_endpoint(routes, active_user),
        method="POST",
        router_name=name,
        operation="logout_all",
        operation_id=operation_id("log_out_everywhere", name, "auth"),
        errors=USER_STORE_ERRORS,
        status_code=status.HTTP_204_NO_CONTENT,
        response_class=Response,
        summary="Log out everywhere",
        description="Every token of the logged-in user stops working, this one included.",
        responses={**_COMMON, status.HTTP_400_BAD_REQUEST: _error("Inactive user.")},
    )


def _password_endpoint(
    routes: AccountRoutes, active_user: UserDependency
) -> Callable[..., Awaitable[dict[str, Any]]]:
    ActiveUser = Annotated[User, Depends(active_user)]

    async def change_my_password(
        change: PasswordChange, user: ActiveUser, request: Request, response: Response
    ) -> dict[str, Any]:
        address = request.client.host if request.client else None
        await routes.check_current(
            user.username, change.current_password.get_secret_value(), address
        )
        changed = await change_password(
            routes.users, routes.passwords, user.username, change.new_password.get_secret_value()
        )
        return routes.token_for(changed, response)

    return change_my_password


def _logout_all_endpoint(
    routes: AccountRoutes, active_user: UserDependency
) -> Callable[..., Awaitable[Response]]:
    ActiveUser = Annotated[User, Depends(active_user)]

    async def log_out_all(user: ActiveUser) -> Response:
        await log_out_everywhere(routes.users, user.username)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    return log_out_all
