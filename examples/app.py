"""The example host app: an ordinary FastAPI app that mounts fastapi-issues.

Run it with `uvicorn examples.app:app` or `fastapi dev examples/app.py`.

Settings come from the environment and a `.env` file, through `AppSettings`
(`examples/settings.py`) and the package's `AuthEnvSettings`; every one is listed in
`docs/example-app-settings.md`, generated from those classes. They are read when the app is
built (`create_app()`, or the first use of `app`), never at import.

One URL, `ISSUES_STORAGE_URL`, says where everything lives: issues, and users in
`users.json` beside the issues file or in the same database; add users with
`fastapi-issues user add NAME`.

Webhooks (`/api/v1/hooks`, admins only) are served when auth is on; the delivery worker runs
in the lifespan of every process, and the store's lease lets one of them deliver at a time.

`/board` is a live board of the open issues: one static page (`examples/board.html`) that
follows the event stream.

`/docs` and `/redoc` load Swagger UI and ReDoc from the app itself (`/static-offline-docs`)
when `fastapi-offline` is installed (the `server` extra), so they work offline; without it,
from a CDN.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse

from examples.settings import AppSettings, get_settings
from fastapi_issues import (
    make_comment_router,
    make_issue_router,
    make_label_router,
    make_webhook_router,
)
from fastapi_issues.middleware import ProcessTimeMiddleware
from fastapi_issues.routers.events import make_event_router
from fastapi_issues.routers.policies import AdminsOnly, ReporterOrAdmin
from fastapi_issues.storage.urls import close_store, open_issue_store, prepare_store

if TYPE_CHECKING:
    from fastapi_issues.auth import AuthSettings, Passwords, UserStore
    from fastapi_issues.routers.issues import IssuePolicy, UserCheck
    from fastapi_issues.storage.protocols import EventStore, HookStore, TrackerStore

try:  # Swagger UI and ReDoc served by the app itself, so /docs works without internet.
    from fastapi_offline import FastAPIOffline as _new_app
except ImportError:  # pragma: no cover - without the server extra: from a CDN, as FastAPI does
    _new_app = FastAPI

DEMO_USERNAME = "johndoe"
DEMO_PASSWORD = "secret"  # the crash course's demo login, only with FASTAPI_ISSUES_DEMO=1

# The live board: one static page, read when the app is built.
BOARD_PAGE = Path(__file__).with_name("board.html")

_log = logging.getLogger("examples.app")


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
    settings: AppSettings | Mapping[str, str] | None = None,
    *,
    store: TrackerStore | None = None,
    auth_settings: AuthSettings | None = None,
) -> FastAPI:
    """The app, configured by `settings`.

    `settings` is an `AppSettings`, or a mapping of environment variables read alone (the
    auth settings then come from it too), or None: the environment and `.env`, read now.
    `auth_settings` replaces the ones read from the environment. `store` serves issues,
    labels and comments from a store built by the caller (one on a clock of its own, say)
    instead of the one the storage URL names; users still live where that URL says. The app
    prepares and closes it as it would its own.
    """
    env: Mapping[str, str] | None = None
    if settings is None:
        settings = AppSettings()
    elif not isinstance(settings, AppSettings):
        env, settings = settings, AppSettings.from_env(settings)
    if store is None:
        store = open_issue_store(settings.storage_url)
    startup: list[Callable[[], Awaitable[None]]] = []
    background: list[Callable[[], AbstractAsyncContextManager[object]]] = []
    other_stores: list[object] = []

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # SQL stores create their tables here (failing fast if the database is down) and
        # every store lets go of its connections or files on the way out.
        await prepare_store(store)
        for start in startup:
            await start()
        # Background tasks (the webhook worker) run while the app serves, and stop before
        # the stores close under them.
        async with AsyncExitStack() as running:
            for task in background:
                await running.enter_async_context(task())
            yield
        for opened in (store, *other_stores):
            await close_store(opened)

    app = _new_app(
        title="Issue Tracker API",
        version="0.1.0",
        description="A mini production-style API built with FastAPI and fastapi-issues.",
        lifespan=lifespan,
    )

    @app.get("/health", tags=["Health"], summary="Liveness check", operation_id="health_check")
    async def health_check() -> dict[str, str]:
        return {"status": "ok"}

    access = _Access()
    if settings.auth:
        if auth_settings is None:
            auth_settings = _auth_settings_from(env)
        users = _mount_auth(app, settings, auth_settings, startup)
        other_stores.append(users)
        access = _Access.of(users, auth_settings)
    policy = _mount_issues(app, settings, store, access)
    _mount_events(app, store, access, policy)
    _mount_webhooks(app, settings, store, access, background)
    _mount_board(app)
    _add_middleware(app, settings)
    return app


@dataclass(frozen=True)
class _Access:
    """Who the routers serve: nobody checked (auth off), or the users of a user store."""

    auth_dependency: Any = None
    # Assigning a name nobody has gets 422, instead of an assignee who never logs in.
    user_exists: UserCheck | None = None
    # The WebSocket's first message carries a bearer token; this finds its user.
    websocket_user: Callable[[str], Awaitable[Any]] | None = None

    @classmethod
    def of(cls, users: UserStore, auth_settings: AuthSettings) -> _Access:
        from fastapi_issues.auth import current_active_user, websocket_user

        return cls(
            auth_dependency=current_active_user(users, auth_settings),
            user_exists=user_lookup(users),
            websocket_user=websocket_user(users, auth_settings),
        )


def _auth_settings_from(env: Mapping[str, str] | None) -> AuthSettings:
    """The auth settings from `env` alone, or from the environment and `.env`; a random
    signing key (with a warning) when none is set, so a demo runs without one."""
    # Imported here so the app runs with FASTAPI_ISSUES_AUTH=off without the auth extra.
    from fastapi_issues.auth import AuthEnvSettings

    read = AuthEnvSettings() if env is None else AuthEnvSettings.from_env(env)
    return read.auth_settings(random_secret_if_missing=True)


def _mount_auth(
    app: FastAPI,
    settings: AppSettings,
    auth_settings: AuthSettings,
    startup: list[Callable[[], Awaitable[None]]],
) -> UserStore:
    """`/token`, `/users/me` (and `/register` when on) on the user store of the storage URL."""
    from fastapi_issues.auth import (
        Passwords,
        make_auth_router,
        make_user_admin_router,
        open_user_store,
        throttle_storage_for,
    )
    from fastapi_issues.auth.throttle import LoginThrottle

    # One URL: users live beside the issues file, or in the same database (their own table).
    users = open_user_store(settings.storage_url)
    startup.append(lambda: prepare_store(users))
    passwords = Passwords()
    # At the root, so the crash course's `/token` and `/users/me` hold.
    app.include_router(
        make_auth_router(
            users,
            auth_settings,
            passwords=passwords,
            registration=settings.registration,
            # Counted in the user store (file or table): every worker counts together.
            throttle=LoginThrottle(throttle_storage_for(users)) if settings.throttle else None,
            max_body_size=settings.max_body_bytes,
        )
    )
    # /api/v1/users for admins: stored ones, and those FASTAPI_ISSUES_ADMINS names (a bootstrap).
    app.include_router(
        make_user_admin_router(
            users,
            auth_settings,
            admins=settings.admins,
            passwords=passwords,
            max_body_size=settings.max_body_bytes,
        )
    )
    if settings.demo:
        startup.append(lambda: ensure_demo_user(users, passwords))
    return users


def _mount_issues(
    app: FastAPI, settings: AppSettings, store: TrackerStore, access: _Access
) -> IssuePolicy | None:
    """Issues, labels and comments; returns the issues' policy, which the events share."""
    auth_dependency = access.auth_dependency
    # Only the reporter or an admin may edit or delete an issue (403 for anyone else), and
    # only an admin may create, rename or delete a label: renaming or deleting one changes
    # every issue that carries it, whoever reported them.
    protected = auth_dependency is not None
    policy = ReporterOrAdmin(settings.admins) if protected else None
    label_policy = AdminsOnly(settings.admins) if protected else None
    # FastAPI's own body limit, set on each router rather than app-wide: a router's 413 is
    # answered inside the CORS middleware, so a browser can read it; FastAPI's app-wide
    # limit answers outside every middleware of the app's own.
    max_body = settings.max_body_bytes
    app.include_router(
        make_issue_router(
            store,
            auth_dependency=auth_dependency,
            prefix="/api/v1/issues",
            policy=policy,
            user_exists=access.user_exists,
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
    return policy


def _mount_events(
    app: FastAPI, store: TrackerStore, access: _Access, policy: IssuePolicy | None
) -> None:
    """The event log: each issue's timeline, the feed, and live over SSE and WebSocket."""
    # Every store a storage URL opens keeps an event log; TrackerStore does not promise one.
    events = cast("EventStore", store)
    # The same policy as the issues: an event is shown to whoever may read its issue.
    app.include_router(
        make_event_router(
            events, access.auth_dependency, policy=policy, websocket_user=access.websocket_user
        )
    )


def _mount_webhooks(
    app: FastAPI,
    settings: AppSettings,
    store: TrackerStore,
    access: _Access,
    background: list[Callable[[], AbstractAsyncContextManager[object]]],
) -> None:
    """`/api/v1/hooks` for admins (with auth on), and the worker that delivers (always: the
    hooks already registered keep being delivered while auth is off)."""
    # Needs the webhooks extra (httpx), so imported only when the app is built.
    from fastapi_issues.webhooks import DeliveryWorker

    # Every store a storage URL opens keeps its webhooks in `hooks`; TrackerStore does not
    # promise them.
    hooks: HookStore = store.hooks  # type: ignore[attr-defined]
    events = cast("EventStore", store)
    allow_private = settings.webhooks_allow_private
    if access.auth_dependency is not None:
        # Admins only: a hook makes the server call a URL of its creator's choosing.
        app.include_router(
            make_webhook_router(
                hooks,
                auth_dependency=access.auth_dependency,
                policy=AdminsOnly(settings.admins),
                allow_private_targets=allow_private,
                max_body_size=settings.max_body_bytes,
            )
        )
    background.append(lambda: DeliveryWorker(hooks, events, allow_private_targets=allow_private))


def _mount_board(app: FastAPI) -> None:
    """`/board`: the open issues, updated live (examples/board.html, no build step)."""
    page = BOARD_PAGE.read_text(encoding="utf-8")

    # A page for people, not part of the API: kept out of the OpenAPI schema.
    @app.get("/board", include_in_schema=False)
    async def live_board() -> HTMLResponse:
        return HTMLResponse(page)


def _add_middleware(app: FastAPI, settings: AppSettings) -> None:
    # In production list only the origins of your own front ends; never "*" together with
    # credentials. Browsers may only read the headers named in expose_headers.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_credentials=True,
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        allow_headers=["Authorization", "Content-Type", "If-Match", "If-None-Match"],
        expose_headers=["Link", "X-Total-Count", "X-Process-Time", "ETag", "Location"],
    )
    # Added last so it is outermost and times everything, CORS included.
    app.add_middleware(ProcessTimeMiddleware)


@lru_cache
def _served_app() -> FastAPI:
    return create_app(get_settings())


def __dir__() -> list[str]:
    # `fastapi dev examples/app.py` looks for `app` in dir(module).
    return [*globals(), "app"]


def __getattr__(name: str) -> Any:
    # `uvicorn examples.app:app` builds the app on first use, so importing this module
    # (for create_app, in tests) reads no setting and needs no secret.
    if name == "app":
        return _served_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
