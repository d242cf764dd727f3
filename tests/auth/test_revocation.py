"""Token revocation: a password change (the CLI's `user passwd` and the account route), a
log-out everywhere (the CLI's and the route), and disabling refuse every token minted
before, with 401, on every user store; across processes within a second."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from fastapi import Depends, FastAPI
from pydantic import SecretStr

from fastapi_issues.auth import (
    AuthSettings,
    InMemoryUserStore,
    JSONFileUserStore,
    SQLUserStore,
    User,
    UserInDB,
    current_user,
    make_auth_router,
)
from fastapi_issues.auth.accounts import change_password, log_out_everywhere, set_disabled
from fastapi_issues.auth.passwords import Passwords
from fastapi_issues.auth.tokens import create_access_token
from fastapi_issues.auth.users import UserStore
from tests.auth.conftest import FAST, PASSWORD, SECRET, Backend, backend_at, bearer
from tests.servers import ROOT

pytestmark = pytest.mark.anyio

NEW_PASSWORD = "a brand new passphrase"


@pytest.fixture(
    params=["memory", "json", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    return backend_at(request, tmp_path)


@pytest.fixture
async def store(backend: Backend) -> AsyncIterator[UserStore]:
    kind, where, schema = backend
    store: UserStore
    if kind == "memory":
        store = InMemoryUserStore()
    elif kind == "json":
        store = JSONFileUserStore(Path(where) / "users.json")
    elif kind == "sqlite":
        store = SQLUserStore(f"sqlite:///{Path(where) / 'issues.db'}")
    else:
        store = SQLUserStore(where, schema=schema)
    await store.create(UserInDB(username="ada", hashed_password=SecretStr(FAST.hash(PASSWORD))))
    yield store
    close = getattr(store, "aclose", None)
    if close is not None:
        await close()


def make_app(store: UserStore) -> FastAPI:
    settings = AuthSettings(secret_key=SECRET)
    app = FastAPI()
    app.include_router(make_auth_router(store, settings, passwords=Passwords(FAST)))

    # Disabled users pass this one: a revoked token must still be refused by it.
    @app.get("/whoami")
    async def whoami(user: User = Depends(current_user(store, settings))) -> User:
        return user

    return app


@pytest.fixture
async def client(store: UserStore) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=make_app(store))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def token(client: httpx.AsyncClient, password: str = PASSWORD) -> str:
    answer = await client.post("/token", data={"username": "ada", "password": password})
    assert answer.status_code == 200, answer.text
    value: str = answer.json()["access_token"]
    return value


Event = Callable[[UserStore, httpx.AsyncClient, str], Awaitable[str]]
"""Revokes ada's tokens given one of them; returns the password to log in with after."""


async def _password_changed(store: UserStore, client: httpx.AsyncClient, old: str) -> str:
    await change_password(store, Passwords(FAST), "ada", NEW_PASSWORD)
    return NEW_PASSWORD


async def _password_route(store: UserStore, client: httpx.AsyncClient, old: str) -> str:
    body = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    answer = await client.post("/users/me/password", json=body, headers=bearer(old))
    assert answer.status_code == 200, answer.text
    fresh = answer.json()["access_token"]
    # The answer's token is of the new generation: this client goes on.
    assert (await client.get("/users/me", headers=bearer(fresh))).status_code == 200
    return NEW_PASSWORD


async def _logged_out(store: UserStore, client: httpx.AsyncClient, old: str) -> str:
    await log_out_everywhere(store, "ADA")
    return PASSWORD


async def _logout_route(store: UserStore, client: httpx.AsyncClient, old: str) -> str:
    answer = await client.post("/users/me/logout-all", headers=bearer(old))
    assert (answer.status_code, answer.content) == (204, b"")
    return PASSWORD


async def _disabled(store: UserStore, client: httpx.AsyncClient, old: str) -> str:
    await set_disabled(store, "ada", True)
    # Enabling again does not bring the old tokens back.
    await set_disabled(store, "ada", False)
    return PASSWORD


EVENTS: dict[str, Event] = {
    "password changed": _password_changed,
    "password route": _password_route,
    "logged out everywhere": _logged_out,
    "logout-all route": _logout_route,
    "disabled": _disabled,
}


@pytest.mark.parametrize("event", list(EVENTS))
async def test_tokens_from_before_the_event_get_401_and_new_ones_work(
    store: UserStore, client: httpx.AsyncClient, event: str
) -> None:
    old = await token(client)
    other_device = await token(client)
    assert (await client.get("/users/me", headers=bearer(old))).status_code == 200
    password = await EVENTS[event](store, client, old)
    for stale in (old, other_device):
        for path in ("/users/me", "/whoami", "/users/me/logout-all"):
            method = client.post if path.endswith("logout-all") else client.get
            refused = await method(path, headers=bearer(stale))
            assert refused.status_code == 401, (path, refused.text)
            assert refused.headers["WWW-Authenticate"] == "Bearer"
    fresh = await token(client, password)
    assert (await client.get("/users/me", headers=bearer(fresh))).json()["username"] == "ada"
    if event.startswith("password"):
        refused = await client.post("/token", data={"username": "ada", "password": PASSWORD})
        assert refused.status_code == 401


async def test_a_disabled_users_tokens_are_refused_even_where_disabled_users_pass(
    store: UserStore, client: httpx.AsyncClient
) -> None:
    old = await token(client)
    await set_disabled(store, "ada", True)
    assert (await client.get("/whoami", headers=bearer(old))).status_code == 401


async def test_tokens_made_before_generations_existed_count_as_the_first(
    store: UserStore, client: httpx.AsyncClient
) -> None:
    settings = AuthSettings(secret_key=SECRET)
    # As 0.1.0 minted them: no generation claim.
    legacy = create_access_token("ada", settings)
    assert (await client.get("/users/me", headers=bearer(legacy))).status_code == 200
    await log_out_everywhere(store, "ada")
    assert (await client.get("/users/me", headers=bearer(legacy))).status_code == 401


async def test_a_wrong_current_password_changes_nothing(
    store: UserStore, client: httpx.AsyncClient
) -> None:
    old = await token(client)
    body = {"current_password": "not the password", "new_password": NEW_PASSWORD}
    answer = await client.post("/users/me/password", json=body, headers=bearer(old))
    assert answer.status_code == 403
    assert answer.json() == {"detail": "The current password is wrong"}
    assert (await client.get("/users/me", headers=bearer(old))).status_code == 200
    assert (await store.get("ada")).token_generation == 0
    await token(client, PASSWORD)


async def test_a_bad_new_password_is_422_and_never_echoed(client: httpx.AsyncClient) -> None:
    old = await token(client)
    body = {"current_password": PASSWORD, "new_password": "short"}
    answer = await client.post("/users/me/password", json=body, headers=bearer(old))
    assert answer.status_code == 422
    assert "short" not in answer.text
    assert PASSWORD not in answer.text
    assert "new_password" in answer.text


# -- across processes -------------------------------------------------------------------


def _cli(storage_url: str, *argv: str, stdin: str = "") -> None:
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}"}
    code = "import sys; from fastapi_issues.cli import main; sys.exit(main(sys.argv[1:]))"
    done = subprocess.run(
        [sys.executable, "-c", code, *argv, "--storage-url", storage_url],
        input=stdin,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert NEW_PASSWORD not in done.stdout + done.stderr


@pytest.mark.parametrize("backend", ["json", "sqlite"])
@pytest.mark.parametrize(
    ("command", "stdin"),
    [
        (("user", "logout-all", "ada"), ""),
        (("user", "passwd", "ada", "--password-stdin"), NEW_PASSWORD + "\n"),
        (("user", "disable", "ada"), ""),
    ],
)
async def test_another_process_revokes_and_this_one_refuses_within_a_second(
    tmp_path: Path, backend: str, command: tuple[str, ...], stdin: str
) -> None:
    if backend == "json":
        url = str(tmp_path / "issues.json")
        store: UserStore = JSONFileUserStore(tmp_path / "users.json")
    else:
        url = f"sqlite:///{tmp_path / 'issues.db'}"
        store = SQLUserStore(url)
    await store.create(UserInDB(username="ada", hashed_password=SecretStr(FAST.hash(PASSWORD))))
    transport = httpx.ASGITransport(app=make_app(store))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            old = await token(client)
            assert (await client.get("/whoami", headers=bearer(old))).status_code == 200
            await asyncio.to_thread(_cli, url, *command, stdin=stdin)
            revoked_at = time.monotonic()
            while (await client.get("/whoami", headers=bearer(old))).status_code != 401:
                assert time.monotonic() - revoked_at < 1.0, "still accepted after a second"
                await asyncio.sleep(0.02)
        assert (await store.get("ada")).token_generation == 1
    finally:
        close = getattr(store, "aclose", None)
        if close is not None:
            await close()


@pytest.mark.parametrize("path", ["/users/me/password", "/users/me/logout-all"])
async def test_the_account_routes_need_a_live_token(
    store: UserStore, client: httpx.AsyncClient, path: str
) -> None:
    body = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    assert (await client.post(path, json=body)).status_code == 401
    stale = await token(client)
    await log_out_everywhere(store, "ada")
    assert (await client.post(path, json=body, headers=bearer(stale))).status_code == 401
    assert (await store.get("ada")).token_generation == 1
    await token(client, PASSWORD)
