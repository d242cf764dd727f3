import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from fastapi_issues import (
    AdminsOnly,
    JSONFileIssueStore,
    make_issue_router,
    make_webhook_router,
)
from fastapi_issues.auth import (
    AuthSettings,
    current_active_user,
    make_auth_router,
    open_user_store,
)
from fastapi_issues.webhooks import DeliveryWorker

settings = AuthSettings.from_env(os.environ)
store = JSONFileIssueStore("data/issues.json")
users = open_user_store("data/issues.json")
login_required = current_active_user(users, settings)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # Every process runs one; the store's lease lets one deliver at a time.
    async with DeliveryWorker(store.hooks, store):
        yield


app = FastAPI(lifespan=lifespan)
app.include_router(make_auth_router(users, settings))  # POST /token
app.include_router(make_issue_router(store, auth_dependency=login_required))
app.include_router(
    make_webhook_router(
        store.hooks,
        auth_dependency=login_required,
        # Hooks make the server call URLs: admins only.
        policy=AdminsOnly(["ada"]),
    )
)
