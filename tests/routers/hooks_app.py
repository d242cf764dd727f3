"""What the webhook router's tests share: an app on the memory store, users named by a
header, and a client that fails any test whose response shows a hook's secret."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI, Header, HTTPException

from fastapi_issues import InMemoryIssueStore, make_issue_router, make_webhook_router
from fastapi_issues.routers.policies import AdminsOnly

HOOKS = "/api/v1/hooks"
ISSUES = "/api/v1/issues"
SECRET = "s3cret-never-shown-0123456789"
# A public address given as such, so that no test needs DNS.
PUBLIC_URL = "https://8.8.8.8/hooks/issues"
ROOT = {"X-User": "root"}
BOB = {"X-User": "bob"}
BOSS = {"X-User": "boss"}  # is_admin in the "user store", not named


@dataclass(frozen=True)
class User:
    username: str
    is_admin: bool = False


async def header_user(x_user: str = Header(default="")) -> User:
    if not x_user:
        raise HTTPException(401, "Not authenticated", headers={"WWW-Authenticate": "Bearer"})
    return User(x_user, is_admin=x_user == "boss")


def make_app(store: InMemoryIssueStore | None = None, **options: Any) -> FastAPI:
    store = store or InMemoryIssueStore()
    options.setdefault("auth_dependency", header_user)
    if options["auth_dependency"] is header_user:
        options.setdefault("policy", AdminsOnly(["root"]))
    app = FastAPI()
    app.include_router(make_issue_router(store))
    app.include_router(make_webhook_router(store.hooks, **options))
    return app


async def _never_the_secret(response: httpx.Response) -> None:
    body = await response.aread()
    assert SECRET.encode() not in body, response.request.url
    assert SECRET[:16].encode() not in body, response.request.url
    assert SECRET not in str(response.headers)


@asynccontextmanager
async def client_for(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://test",
        event_hooks={"response": [_never_the_secret]},
    ) as client:
        yield client


def hook_body(**fields: Any) -> dict[str, Any]:
    return {"url": PUBLIC_URL, "secret": SECRET, **fields}


async def new_hook(client: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    response = await client.post(HOOKS, json=hook_body(**fields), headers=ROOT)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]
