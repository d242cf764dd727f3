import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from fastapi_issues import make_issue_router
from fastapi_issues.storage.urls import open_issue_store

# One setting picks the store: a path or json:///path for a JSON file,
# memory:// for none.
storage_url = os.environ.get("ISSUES_STORAGE_URL", "data/issues.json")
store = open_issue_store(storage_url)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    close = getattr(store, "close", None)  # the JSON store holds a lock file
    if close is not None:
        close()


app = FastAPI(title="My product", lifespan=lifespan)
app.include_router(make_issue_router(store))
