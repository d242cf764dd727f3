from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
from fastapi import Depends, FastAPI
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from pydantic import SecretStr

from fastapi_issues.auth import (
    AuthSettings,
    InMemoryUserStore,
    Passwords,
    User,
    UserInDB,
    current_active_user,
    current_user,
    make_auth_router,
)
from fastapi_issues.routers.issues import make_issue_router
from fastapi_issues.storage import InMemoryIssueStore

SECRET = "test-signing-key-" + "s" * 47
PASSWORD = "correct horse battery"

# Cheap argon2 parameters keep the HTTP tests fast; the default ones are tested elsewhere.
FAST = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1),))


Backend = tuple[str, str, str | None]
"""A stored backend's (kind, where: a folder or a PostgreSQL URL, PostgreSQL schema)."""


def backend_at(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    """The `Backend` of a fixture parametrized by kind: PostgreSQL's URL and a schema of its
    own, the others a temporary folder."""
    if request.param != "postgres":
        return request.param, str(tmp_path), None
    url = request.getfixturevalue("postgres_url")
    return "postgres", url, request.getfixturevalue("postgres_schema")


@pytest.fixture
def settings() -> AuthSettings:
    return AuthSettings(secret_key=SECRET)


@pytest.fixture
def passwords() -> Passwords:
    return Passwords(FAST)


@pytest.fixture
def users() -> InMemoryUserStore:
    hashed = SecretStr(FAST.hash(PASSWORD))
    return InMemoryUserStore(
        [
            UserInDB(
                username="ada",
                email="ada@example.com",
                full_name="Ada Lovelace",
                hashed_password=hashed,
            ),
            UserInDB(username="eve", disabled=True, hashed_password=hashed),
        ]
    )


AppFactory = Callable[..., FastAPI]


@pytest.fixture
def make_app(users: InMemoryUserStore, settings: AuthSettings, passwords: Passwords) -> AppFactory:
    def build(**router_options: object) -> FastAPI:
        app = FastAPI()
        app.include_router(
            make_auth_router(users, settings, passwords=passwords, **router_options)  # type: ignore[arg-type]
        )
        app.include_router(
            make_issue_router(
                InMemoryIssueStore(), auth_dependency=current_active_user(users, settings)
            )
        )

        @app.get("/whoami-even-if-disabled")
        async def whoami(user: User = Depends(current_user(users, settings))) -> User:
            return user

        return app

    return build


@pytest.fixture
async def client(make_app: AppFactory) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=make_app()), base_url="http://test"
    ) as client:
        yield client


async def login(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await client.post("/token", data={"username": username, "password": password})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
