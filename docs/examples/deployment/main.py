import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from fastapi_issues import make_issue_router
from fastapi_issues.auth import (
    AuthSettings,
    LoginThrottle,
    current_active_user,
    make_auth_router,
    open_user_store,
)
from fastapi_issues.storage.urls import (
    close_store,
    open_issue_store,
    prepare_store,
)

# A JSON file, sqlite:///path or postgresql://user@host/db; users live with
# the issues (users.json beside the file, or a table in the same database).
storage_url = os.environ.get("ISSUES_STORAGE_URL", "data/issues.json")
store = open_issue_store(storage_url)
users = open_user_store(storage_url)
# Refuses to start without FASTAPI_ISSUES_SECRET_KEY.
settings = AuthSettings.from_env(os.environ)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    for opened in (store, users):
        await prepare_store(opened)  # SQL: create the tables, or fail now
    yield
    for opened in (store, users):
        await close_store(opened)


app = FastAPI(title="My product", lifespan=lifespan)
# Repeated failed logins get 429 and a growing wait; every router
# answers 413 to a body over 1 MiB (its max_body_size).
app.include_router(
    make_auth_router(users, settings, throttle=LoginThrottle())
)
app.include_router(
    make_issue_router(
        store, auth_dependency=current_active_user(users, settings)
    )
)


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}
