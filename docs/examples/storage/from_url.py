import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from fastapi_issues import make_issue_router
from fastapi_issues.storage.urls import (
    close_store,
    open_issue_store,
    prepare_store,
)

# One setting picks the store: data/issues.json, sqlite:///data/issues.db,
# postgresql://user@host/db, memory://
storage_url = os.environ.get("ISSUES_STORAGE_URL", "data/issues.json")
store = open_issue_store(storage_url)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    await prepare_store(store)  # SQL: create the tables, or fail now
    yield
    await close_store(store)  # connections, lock files


app = FastAPI(title="My product", lifespan=lifespan)
app.include_router(make_issue_router(store))
