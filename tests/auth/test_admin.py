"""`make_user_admin_router`: who may (stored admins, the bootstrap list) and who may not (a
user, no token, a revoked token), and what each route does."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from fastapi_issues.auth import (
    AuthSettings,
    InMemoryUserStore,
    Passwords,
    UserInDB,
    make_auth_router,
    make_user_admin_router,
)
from fastapi_issues.auth.accounts import log_out_everywhere
from tests.auth.conftest import FAST, PASSWORD, SECRET, bearer

pytestmark = pytest.mark.anyio

USERS = "/api/v1/users"


@pytest.fixture
def users() -> InMemoryUserStore:
    hashed = SecretStr(FAST.hash(PASSWORD))
    return InMemoryUserStore(
        [
            UserInDB(username="root", is_admin=True, hashed_password=hashed),
            UserInDB(username="boot", hashed_password=hashed),
            UserInDB(username="ada", hashed_password=hashed),
        ]
    )


@pytest.fixture
async def client(users: InMemoryUserStore) -> AsyncIterator[httpx.AsyncClient]:
    settings = AuthSettings(secret_key=SECRET)
    app = FastAPI()
    app.include_router(make_auth_router(users, settings, passwords=Passwords(FAST)))
    app.include_router(
        make_user_admin_router(users, settings, admins=["boot"], passwords=Passwords(FAST))
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def headers_of(
    client: httpx.AsyncClient, name: str, password: str = PASSWORD
) -> dict[str, str]:
    answer = await client.post("/token", data={"username": name, "password": password})
    assert answer.status_code == 200, answer.text
    return bearer(answer.json()["access_token"])


NEW = {"username": "grace", "password": "a long passphrase", "email": "g@example.com"}
ROUTES = [
    ("GET", USERS, None),
    ("POST", USERS, NEW),
    ("POST", f"{USERS}/ada/disable", None),
    ("POST", f"{USERS}/ada/enable", None),
    ("PUT", f"{USERS}/ada/admin", None),
    ("DELETE", f"{USERS}/ada/admin", None),
]


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
@pytest.mark.parametrize("admin", ["root", "boot"])
async def test_stored_and_bootstrap_admins_may(
    client: httpx.AsyncClient, method: str, path: str, body: object, admin: str
) -> None:
    answer = await client.request(method, path, json=body, headers=await headers_of(client, admin))
    assert answer.status_code in (200, 201), answer.text


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
async def test_a_user_may_not(
    client: httpx.AsyncClient, users: InMemoryUserStore, method: str, path: str, body: object
) -> None:
    answer = await client.request(method, path, json=body, headers=await headers_of(client, "ada"))
    assert answer.status_code == 403
    assert answer.json() == {"detail": "Only admins may manage users"}
    ada = await users.get("ada")
    assert (ada.is_admin, ada.disabled, len(await users.list())) == (False, False, 3)


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
async def test_no_token_and_a_revoked_admin_token_get_401(
    client: httpx.AsyncClient, users: InMemoryUserStore, method: str, path: str, body: object
) -> None:
    assert (await client.request(method, path, json=body)).status_code == 401
    stale = await headers_of(client, "root")
    await log_out_everywhere(users, "root")
    refused = await client.request(method, path, json=body, headers=stale)
    assert refused.status_code == 401
    assert len(await users.list()) == 3


async def test_a_demoted_admin_is_refused_at_once(client: httpx.AsyncClient) -> None:
    root = await headers_of(client, "root")
    boot = await headers_of(client, "boot")
    assert (await client.delete(f"{USERS}/root/admin", headers=boot)).json()["is_admin"] is False
    assert (await client.get(USERS, headers=root)).status_code == 403


async def test_create_list_disable_enable_promote(
    client: httpx.AsyncClient, users: InMemoryUserStore
) -> None:
    root = await headers_of(client, "root")
    created = await client.post(USERS, json={**NEW, "is_admin": True}, headers=root)
    assert created.status_code == 201
    assert created.json() == {
        "username": "grace",
        "email": "g@example.com",
        "full_name": None,
        "disabled": False,
        "is_admin": True,
    }
    assert "passphrase" not in created.text
    grace = await headers_of(client, "grace", "a long passphrase")
    assert (await client.get(USERS, headers=grace)).status_code == 200
    taken = await client.post(USERS, json={**NEW, "username": "GRACE"}, headers=root)
    assert taken.status_code == 409

    page = await client.get(USERS, params={"per_page": 2, "page": 2}, headers=root)
    assert [u["username"] for u in page.json()] == ["grace", "root"]
    assert page.headers["X-Total-Count"] == "4"
    assert 'rel="prev"' in page.headers["Link"]

    # Disabling revokes the user's tokens; enabling does not bring them back.
    ada = await headers_of(client, "ada")
    assert (await client.post(f"{USERS}/ada/disable", headers=root)).json()["disabled"] is True
    assert (await client.get("/users/me", headers=ada)).status_code == 401
    assert (await client.post(f"{USERS}/ada/enable", headers=root)).json()["disabled"] is False
    assert (await client.get("/users/me", headers=ada)).status_code == 401
    ada = await headers_of(client, "ada")
    assert (await client.get(USERS, headers=ada)).status_code == 403
    assert (await client.put(f"{USERS}/ADA/admin", headers=root)).json()["is_admin"] is True
    assert (await client.get(USERS, headers=ada)).status_code == 200
    assert (await users.get("ada")).is_admin is True


async def test_unknown_users_get_404_and_bad_names_422(client: httpx.AsyncClient) -> None:
    root = await headers_of(client, "root")
    missing = await client.post(f"{USERS}/nobody/disable", headers=root)
    assert (missing.status_code, missing.json()) == (404, {"detail": "User not found"})
    assert (await client.put(f"{USERS}/bad%20name/admin", headers=root)).status_code == 422
    short = await client.post(USERS, json={**NEW, "password": "shortpw"}, headers=root)
    assert short.status_code == 422
    assert "shortpw" not in short.text
