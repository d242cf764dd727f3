"""`make_auth_router`: `POST /token` (OAuth2 password flow), `GET /users/me`, the account
routes (`_account_routes.py`), and an optional `POST /register`."""

# No `from __future__ import annotations`: FastAPI must see the factory-local Annotated types.

from collections.abc import Awaitable, Callable, Sequence
from enum import Enum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, Field, SecretStr

from fastapi_issues.auth._account_routes import AccountRoutes, add_account_routes
from fastapi_issues.auth._login import Authenticator
from fastapi_issues.auth.dependencies import (
    INACTIVE_USER,
    USER_STORE_ERRORS,
    UserDependency,
    credentials_error,
    current_active_user,
)
from fastapi_issues.auth.passwords import Passwords
from fastapi_issues.auth.settings import AuthSettings
from fastapi_issues.auth.throttle import (
    LoginThrottle,
    LoginThrottled,
    RegistrationThrottle,
    RegistrationThrottled,
    throttled_login,
)
from fastapi_issues.auth.tokens import create_access_token
from fastapi_issues.auth.users import User, UserInDB, UserRegistration, UserStore
from fastapi_issues.routers.kit import (
    DEFAULT_MAX_BODY_SIZE,
    ErrorMessage,
    NoSecretEchoRoute,
    Responses,
    add_route,
    operation_id,
    reject_ambiguous_json,
)

__all__ = ["AccessToken", "make_auth_router"]

BAD_LOGIN = "Incorrect username or password"


class AccessToken(BaseModel):
    """What a successful login returns (RFC 6749 §5.1)."""

    access_token: str
    token_type: str = Field(default="bearer", examples=["bearer"])
    expires_in: int = Field(description="Seconds until the token expires.", examples=[1800])


def make_auth_router(
    user_store: UserStore,
    settings: AuthSettings,
    *,
    passwords: Passwords | None = None,
    prefix: str = "",
    token_url: str | None = None,
    name: str = "auth",
    tags: Sequence[str | Enum] | None = ("Auth",),
    max_body_size: int | None = DEFAULT_MAX_BODY_SIZE,
    registration: bool = False,
    throttle: LoginThrottle | None = None,
    registration_throttle: RegistrationThrottle | None = None,
) -> APIRouter:
    """Build the login routes as an `APIRouter` to pass to `app.include_router`.

    - `POST {prefix}/token`: the OAuth2 password flow. Takes form fields `username` and
      `password` (as Swagger UI's Authorize dialog sends them) and returns
      `{"access_token", "token_type": "bearer", "expires_in"}`. Wrong credentials get 401
      with `WWW-Authenticate: Bearer`, the same answer in about the same time whether the
      user exists or not. A password hashed with outdated parameters is re-hashed.
    - `GET {prefix}/users/me`: the logged-in user, without its password hash.
    - `POST {prefix}/users/me/password`: `{"current_password", "new_password"}`; revokes
      every token of the user and answers a fresh one (as `/token` does). A wrong current
      password gets 400, counted by `throttle` like a failed login.
    - `POST {prefix}/users/me/logout-all`: revokes every token of the user (204).
    - `POST {prefix}/register` (only with `registration=True`): anyone may create a user,
      as often as `registration_throttle` allows (429 with `Retry-After` past it).

    Args:
        user_store: where users live.
        settings: how tokens are signed; pass the same to `current_active_user`.
        passwords: the password hasher; argon2 with pwdlib's recommended parameters by
            default.
        prefix: where the routes live; mount the router with `app.include_router(router)`
            and no further prefix, or pass `token_url` yourself.
        token_url: where clients get tokens, as written into the OpenAPI schema for
            Swagger UI; by default `{prefix}/token` relative to the app root.
        name: namespaces route names (`auth:token`, `auth:me`, `auth:register`); operation
            ids are `log_in`, `read_current_user` and `register_user`, prefixed with `name`
            when it is not `auth`.
        tags: OpenAPI tags for the routes.
        max_body_size: the most bytes a request body may have (FastAPI's own limit); a
            larger one gets 413. `None` sets none here (an app-wide limit still applies).
        registration: serve `POST /register`. Off by default: users are made with the
            `fastapi-issues user add` command.
        throttle: a `LoginThrottle`: repeated failed logins per username and per client
            address then get 429 with `Retry-After`, before any password is checked.
        registration_throttle: how often `/register` may be used, per client address and
            overall; `RegistrationThrottle()` (10 an hour per address, 30 a minute in all)
            by default. Registration is always throttled.

    To protect other routes, build the dependency with the same store, settings and token
    URL: `current_active_user(user_store, settings, token_url=...)`.
    """
    hasher = passwords if passwords is not None else Passwords()
    if token_url is None:
        token_url = f"{prefix}/token".lstrip("/")
    router = APIRouter(
        prefix=prefix,
        tags=list(tags) if tags else None,
        max_body_size=max_body_size,
        route_class=NoSecretEchoRoute,
    )
    add_route(
        router,
        "/token",
        _login_endpoint(Authenticator(user_store, hasher), settings, throttle),
        method="POST",
        router_name=name,
        operation="token",
        operation_id=operation_id("log_in", name, "auth"),
        errors=USER_STORE_ERRORS,
        response_model=AccessToken,
        summary="Log in and get an access token",
        description=(
            "The OAuth2 password flow: send `username` and `password` as form data. Send the "
            "returned token in `Authorization: Bearer <token>` on later requests."
        ),
        responses={
            **_UNAUTHORIZED,
            **_INACTIVE,
            **_UNAVAILABLE,
            **(_THROTTLED if throttle is not None else {}),
            **_TOO_LARGE,
        },
    )
    me = current_active_user(user_store, settings, token_url=token_url)
    _add_me(router, name, _me_endpoint(me))
    account = AccountRoutes(user_store, hasher, settings, throttle)
    add_account_routes(router, name, account, me, AccessToken)
    if registration:
        sign_ups = registration_throttle or RegistrationThrottle()
        _add_registration(router, name, _register_endpoint(user_store, hasher, sign_ups))
    return router


def _add_me(router: APIRouter, name: str, me: Callable[..., Any]) -> None:
    add_route(
        router,
        "/users/me",
        me,
        method="GET",
        router_name=name,
        operation="me",
        operation_id=operation_id("read_current_user", name, "auth"),
        errors=USER_STORE_ERRORS,
        head=False,
        response_model=User,
        summary="The logged-in user",
        responses={**_UNAUTHORIZED, **_INACTIVE, **_UNAVAILABLE},
    )


def _add_registration(router: APIRouter, name: str, register: Callable[..., Any]) -> None:
    add_route(
        router,
        "/register",
        register,
        method="POST",
        router_name=name,
        operation="register",
        operation_id=operation_id("register_user", name, "auth"),
        errors=USER_STORE_ERRORS,
        response_model=User,
        status_code=status.HTTP_201_CREATED,
        summary="Create a user",
        description="Creates an enabled user; log in with `POST /token` afterwards.",
        dependencies=[Depends(reject_ambiguous_json)],
        responses=_REGISTER_ERRORS,
    )


def _auth_error(description: str, **more: Any) -> dict[str, Any]:
    return {"model": ErrorMessage, "description": description, **more}


_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer"},
    }
}
_UNAUTHORIZED: Responses = {
    status.HTTP_401_UNAUTHORIZED: _auth_error(
        "Missing or invalid credentials.",
        headers={"WWW-Authenticate": {"schema": {"type": "string"}}},
    )
}
_INACTIVE: Responses = {status.HTTP_400_BAD_REQUEST: _auth_error("Inactive user.")}
_TOO_LARGE: Responses = {413: _auth_error("The body is larger than the server accepts.")}
_THROTTLED: Responses = {
    status.HTTP_429_TOO_MANY_REQUESTS: _auth_error(
        "Too many failed logins for this username or from this address.", headers=_RETRY_AFTER
    )
}
_UNAVAILABLE: Responses = {
    status.HTTP_503_SERVICE_UNAVAILABLE: _auth_error("The user store cannot be reached or read.")
}
_REGISTER_ERRORS: Responses = {
    status.HTTP_409_CONFLICT: _auth_error(
        "The username, or one differing only in case or width, is taken."
    ),
    status.HTTP_429_TOO_MANY_REQUESTS: _auth_error(
        "Too many registrations from this address, or overall.", headers=_RETRY_AFTER
    ),
    **_UNAVAILABLE,
    **_TOO_LARGE,
    status.HTTP_400_BAD_REQUEST: _auth_error(
        "The body cannot be parsed (not UTF-8, or nested too deeply)."
    ),
}


def _login_endpoint(
    authenticate: Authenticator, settings: AuthSettings, throttle: LoginThrottle | None
) -> Callable[..., Awaitable[AccessToken]]:
    lifetime_seconds = int(settings.token_lifetime.total_seconds())

    async def login(
        request: Request,
        response: Response,
        form: Annotated[OAuth2PasswordRequestForm, Depends()],
    ) -> AccessToken:
        if throttle is None:
            user = await authenticate(form.username, form.password)
        else:
            address = request.client.host if request.client else None
            try:
                user = await throttled_login(
                    throttle,
                    form.username,
                    address,
                    lambda: authenticate(form.username, form.password),
                )
            except LoginThrottled as exc:
                raise HTTPException(
                    status.HTTP_429_TOO_MANY_REQUESTS,
                    "Too many failed logins; try again later",
                    headers={"Retry-After": str(exc.retry_after)},
                ) from None
        if user is None:
            raise credentials_error(BAD_LOGIN)
        if user.disabled:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, INACTIVE_USER)
        # RFC 6749 §5.1: responses carrying tokens must not be cached.
        response.headers["Cache-Control"] = "no-store"
        response.headers["Pragma"] = "no-cache"
        return AccessToken(
            access_token=create_access_token(
                user.username, settings, generation=user.token_generation
            ),
            token_type="bearer",
            expires_in=lifetime_seconds,
        )

    return login


def _me_endpoint(active_user: UserDependency) -> Callable[..., Awaitable[User]]:
    ActiveUser = Annotated[User, Depends(active_user)]

    async def read_me(user: ActiveUser) -> User:
        return user

    return read_me


def _register_endpoint(
    user_store: UserStore, hasher: Passwords, sign_ups: RegistrationThrottle
) -> Callable[..., Awaitable[User]]:
    async def register(payload: UserRegistration, request: Request) -> User:
        try:
            # Before the hash: a refused registration costs no CPU.
            sign_ups.acquire(request.client.host if request.client else None)
        except RegistrationThrottled as exc:
            raise HTTPException(
                status.HTTP_429_TOO_MANY_REQUESTS,
                "Too many registrations; try again later",
                headers={"Retry-After": str(exc.retry_after)},
            ) from None
        hashed = await hasher.hash_for_registration(payload.password.get_secret_value())
        new_user = UserInDB(
            username=payload.username,
            email=payload.email,
            full_name=payload.full_name,
            hashed_password=SecretStr(hashed),
        )
        created = await user_store.create(new_user)
        return created.public()

    return register
