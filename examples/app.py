"""The example host app: an ordinary FastAPI app that mounts fastapi-issues.

Run it with `uvicorn examples.app:app` or `fastapi dev examples/app.py`.

Settings, all from the environment:
- ISSUES_STORAGE_URL: where issues live (default `data/issues.json`; `memory://` for none;
  `sqlite:///issues.db` or `postgresql://user@host/db` for a database).
- FASTAPI_ISSUES_CORS_ORIGINS: comma-separated origins browsers may call from
  (default `http://localhost:3000`).
- FASTAPI_ISSUES_MAX_BODY_BYTES: larger request bodies get 413 (default 1048576, 1 MiB).
- FASTAPI_ISSUES_AUTH: `on` (default) protects the issue routes with JWT bearer tokens from
  `POST /token`; `off` serves them to anyone (for benchmarks).
- FASTAPI_ISSUES_SECRET_KEY: the token signing key (`fastapi-issues secret` makes one). Without
  it a random key is made per process: tokens die with the process and are refused by other
  workers. Also FASTAPI_ISSUES_TOKEN_MINUTES and the others `AuthSettings.from_env` reads.
- FASTAPI_ISSUES_REGISTRATION: `on` serves `POST /register` (default `off`).
- FASTAPI_ISSUES_THROTTLE: `on` (default) answers repeated failed logins per username and per
  client address with 429 and `Retry-After` (see `fastapi_issues.auth.throttle`).
- FASTAPI_ISSUES_DEMO: `1` creates the crash course's demo user `johndoe` / `secret` at startup.
- FASTAPI_ISSUES_ADMINS: comma-separated usernames who may edit and delete any issue, and who
  alone may create, rename and delete labels; everyone else may edit and delete only the
  issues they reported, and put existing labels on them (with auth on).

Users live in `users.json` beside the issues file, or in the same database with a SQL
ISSUES_STORAGE_URL; add them with `fastapi-issues user add NAME`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from fastapi_issues import (
    DEFAULT_MAX_BODY_SIZE,
    make_comment_router,
    make_issue_router,
    make_label_router,
)
from fastapi_issues.middleware import ProcessTimeMiddleware
from fastapi_issues.routers.policies import AdminsOnly, ReporterOrAdmin
from fastapi_issues.storage.urls import close_store, open_issue_store, prepare_store

if TYPE_CHECKING:
    from fastapi_issues.auth import Passwords, UserStore
    from fastapi_issues.routers.issues import UserCheck
    from fastapi_issues.storage.protocols import TrackerStore

DEFAULT_STORAGE_URL = "data/issues.json"
DEFAULT_CORS_ORIGINS = "http://localhost:3000"
DEMO_USERNAME = "johndoe"
DEMO_PASSWORD = "secret"  # the crash course's demo login, only with FASTAPI_ISSUES_DEMO=1

_log = logging.getLogger("examples.app")


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    value = env.get(name, "").strip().lower()
    if not value:
        return default
    if value in {"1", "on", "true", "yes"}:
        return True
    if value in {"0", "off", "false", "no"}:
        return False
    raise ValueError(f"{name} must be on or off, not {env[name]!r}")


async def ensure_demo_user(users: UserStore, passwords: Passwords) -> None:
    """Create the crash course's `johndoe` unless a user of that name exists."""
    from pydantic import SecretStr

    from fastapi_issues.auth import UserExists, UserInDB, UserNotFound

    try:
        await users.get(DEMO_USERNAME)
        return
    except UserNotFound:
        pass
    hashed = await passwords.hash(DEMO_PASSWORD)
    demo = UserInDB(
        username=DEMO_USERNAME,
        full_name="John Doe",
        email="johndoe@example.com",
        hashed_password=SecretStr(hashed),
    )
    try:
        await users.create(demo)
    except UserExists:  # another worker made it first
        return
    _log.warning(
        "created the demo user %r; never enable FASTAPI_ISSUES_DEMO in production", DEMO_USERNAME
    )


def user_lookup(users: UserStore) -> UserCheck:
    """The issue router's `user_exists`: a name is a user when the user store has it."""
    from fastapi_issues.auth import UserNotFound

    async def user_exists(username: str) -> bool:
        try:
            await users.get(username)
        except UserNotFound:
            return False
        return True

    return user_exists


def create_app(
    env: Mapping[str, str] | None = None, *, store: TrackerStore | None = None
) -> FastAPI:
    """The app, configured from `env` (the process environment by default).

    `store` serves issues, labels and comments from a store built by the caller (one on a
    clock of its own, say) instead of the one ISSUES_STORAGE_URL names; users still live
    where that URL says. The app prepares and closes it as it would its own.
    """
    env = os.environ if env is None else env
    storage_url = env.get("ISSUES_STORAGE_URL", DEFAULT_STORAGE_URL)
    if store is None:
        store = open_issue_store(storage_url)
    auth_on = _flag(env, "FASTAPI_ISSUES_AUTH", True)
    demo = _flag(env, "FASTAPI_ISSUES_DEMO", False)
    startup: list[Callable[[], Awaitable[None]]] = []
    other_stores: list[object] = []

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # SQL stores create their tables here (failing fast if the database is down) and
        # every store lets go of its connections or files on the way out.
        await prepare_store(store)
        for start in startup:
            await start()
        yield
        for opened in (store, *other_stores):
            await close_store(opened)

    # FastAPI's own body limit, set on each router rather than app-wide: a router's 413 is
    # answered inside the CORS middleware, so a browser can read it; FastAPI's app-wide
    # limit answers outside every middleware of the app's own.
    max_body = int(env.get("FASTAPI_ISSUES_MAX_BODY_BYTES", DEFAULT_MAX_BODY_SIZE))
    app = FastAPI(
        title="Issue Tracker API",
        version="0.1.0",
        description="A mini production-style API built with FastAPI and fastapi-issues.",
        lifespan=lifespan,
    )

    @app.get("/health", tags=["Health"], summary="Liveness check", operation_id="health_check")
    async def health_check() -> dict[str, str]:
        return {"status": "ok"}

    auth_dependency = None
    user_exists: UserCheck | None = None
    if auth_on:
        # Imported here so the app runs with FASTAPI_ISSUES_AUTH=off without the auth extra.
        from fastapi_issues.auth import (
            AuthSettings,
            Passwords,
            current_active_user,
            make_auth_router,
            open_user_store,
        )
        from fastapi_issues.auth.throttle import LoginThrottle

        settings = AuthSettings.from_env(env, random_secret_if_missing=True)
        users = open_user_store(storage_url)
        # With a SQL store, users live in the same database (their own table).
        startup.append(lambda: prepare_store(users))
        other_stores.append(users)
        passwords = Passwords()
        # At the root, so the crash course's `/token` and `/users/me` hold.
        app.include_router(
            make_auth_router(
                users,
                settings,
                passwords=passwords,
                registration=_flag(env, "FASTAPI_ISSUES_REGISTRATION", False),
                throttle=LoginThrottle() if _flag(env, "FASTAPI_ISSUES_THROTTLE", True) else None,
                max_body_size=max_body,
            )
        )
        auth_dependency = current_active_user(users, settings)
        # Assigning a name nobody has gets 422, instead of an assignee who never logs in.
        user_exists = user_lookup(users)
        if demo:
            startup.append(lambda: ensure_demo_user(users, passwords))

    # Only the reporter or an admin may edit or delete an issue (403 for anyone else), and
    # only an admin may create, rename or delete a label: renaming or deleting one changes
    # every issue that carries it, whoever reported them.
    admins = [a.strip() for a in env.get("FASTAPI_ISSUES_ADMINS", "").split(",") if a.strip()]
    policy = ReporterOrAdmin(admins) if auth_dependency is not None else None
    label_policy = AdminsOnly(admins) if auth_dependency is not None else None
    app.include_router(
        make_issue_router(
            store,
            auth_dependency=auth_dependency,
            prefix="/api/v1/issues",
            policy=policy,
            user_exists=user_exists,
            max_body_size=max_body,
        )
    )
    # Labels and comments share the store, the auth and the policy: changing an issue's labels
    # is an update of the issue; comments are edited and deleted by their authors only.
    app.include_router(
        make_label_router(
            store,
            auth_dependency=auth_dependency,
            policy=policy,
            label_policy=label_policy,
            max_body_size=max_body,
        )
    )
    app.include_router(
        make_comment_router(
            store, auth_dependency=auth_dependency, policy=policy, max_body_size=max_body
        )
    )

    # In production list only the origins of your own front ends; never "*" together with
    # credentials. Browsers may only read the headers named in expose_headers.
    origins = [
        o.strip() for o in env.get("FASTAPI_ISSUES_CORS_ORIGINS", DEFAULT_CORS_ORIGINS).split(",")
    ]
    app.add_middleware(
        CORSMiddleware,
        allow_origins=[o for o in origins if o],
        allow_credentials=True,
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        allow_headers=["Authorization", "Content-Type", "If-Match", "If-None-Match"],
        expose_headers=["Link", "X-Total-Count", "X-Process-Time", "ETag", "Location"],
    )
    # Added last so it is outermost and times everything, CORS included.
    app.add_middleware(ProcessTimeMiddleware)
    return app


app = create_app()
