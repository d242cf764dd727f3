import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from fastapi_issues import make_issue_router
from fastapi_issues.auth import (
    AuthSettings,
    current_active_user,
    make_auth_router,
    open_user_store,
)
from fastapi_issues.storage.urls import open_issue_store

# One setting picks the store: a path or json:///path for a JSON file,
# memory:// for none.
storage_url = os.environ.get("ISSUES_STORAGE_URL", "data/issues.json")
store = open_issue_store(storage_url)
users = open_user_store(storage_url)  # users.json beside the issues file
# Refuses to start without FASTAPI_ISSUES_SECRET_KEY.
settings = AuthSettings.from_env(os.environ)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    for opened in (store, users):  # JSON stores hold a lock file open
        close = getattr(opened, "close", None)
        if close is not None:
            close()


app = FastAPI(title="My product", lifespan=lifespan)
app.include_router(make_auth_router(users, settings))
app.include_router(
    make_issue_router(
        store, auth_dependency=current_active_user(users, settings)
    )
)


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}
