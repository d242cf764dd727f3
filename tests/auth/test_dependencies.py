"""`current_user` and `current_active_user`: every bad token gets 401, disabled users 400."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest
from fastapi import HTTPException

from fastapi_issues.auth import (
    AuthSettings,
    InMemoryUserStore,
    UserUpdate,
    create_access_token,
    websocket_user,
)
from tests.auth.conftest import PASSWORD, SECRET, bearer, login

pytestmark = pytest.mark.anyio

ISSUE = {"title": "Login fails", "description": "On every browser", "priority": "high"}


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _exp(minutes: int = 5) -> datetime:
    return datetime.now(UTC) + timedelta(minutes=minutes)


def _signed(claims: dict[str, object], key: str = SECRET) -> str:
    return jwt.encode(claims, key, algorithm="HS256")


BAD_TOKENS: dict[str, Callable[[], str]] = {
    "alg none": lambda: (
        _b64({"alg": "none", "typ": "JWT"})
        + "."
        + _b64({"sub": "ada", "exp": int(_exp().timestamp())})
        + "."
    ),
    "another secret": lambda: _signed({"sub": "ada", "exp": _exp()}, key="x" * 64),
    "expired": lambda: _signed({"sub": "ada", "exp": _exp(-1)}),
    "missing sub": lambda: _signed({"exp": _exp()}),
    "missing exp": lambda: _signed({"sub": "ada"}),
    "unknown user": lambda: _signed({"sub": "ghost", "exp": _exp()}),
    "malformed": lambda: "definitely.not.a-jwt",
    "empty": lambda: "",
}


async def test_a_good_token_is_accepted(client: httpx.AsyncClient) -> None:
    # The control for the rejections below: the same shape of token, made right.
    response = await client.get(
        "/api/v1/issues", headers=bearer(_signed({"sub": "ada", "exp": _exp()}))
    )
    assert response.status_code == 200


@pytest.mark.parametrize("attack", list(BAD_TOKENS))
async def test_bad_tokens_get_401_with_a_bearer_challenge(
    client: httpx.AsyncClient, attack: str
) -> None:
    headers = bearer(BAD_TOKENS[attack]())
    for response in (
        await client.get("/api/v1/issues", headers=headers),
        await client.post("/api/v1/issues", json=ISSUE, headers=headers),
        await client.get("/users/me", headers=headers),
        await client.get("/whoami-even-if-disabled", headers=headers),
    ):
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json() == {"detail": "Could not validate credentials"}
    listing = await client.get(
        "/api/v1/issues",
        headers=bearer(create_access_token("ada", AuthSettings(secret_key=SECRET))),
    )
    assert listing.json() == []


WRONG_TYPED_CLAIMS = {
    "exp an integer string": {"exp": str(int(_exp().timestamp()))},
    "exp a float string": {"exp": f"{int(_exp().timestamp())}.5"},
    "exp a list": {"exp": [int(_exp().timestamp())]},
    "exp true": {"exp": True},
    "exp null": {"exp": None},
    "nbf a string": {"nbf": "0"},
    "nbf false": {"nbf": False},
    "iat a string": {"iat": "0"},
    "iat a list": {"iat": [0]},
    "iat true": {"iat": True},
}


@pytest.mark.parametrize("case", list(WRONG_TYPED_CLAIMS))
async def test_time_claims_of_the_wrong_type_get_401_every_time(
    client: httpx.AsyncClient, case: str
) -> None:
    # Signed with the right key: only the type of one claim is wrong. Sent three times,
    # because the first answer was once a 200 and the next ones a 500 (from the cache).
    claims = {"sub": "ada", "exp": int(_exp().timestamp()), **WRONG_TYPED_CLAIMS[case]}
    headers = bearer(_signed(claims))
    for _ in range(3):
        response = await client.get("/api/v1/issues", headers=headers)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Basic YWRhOnNlY3JldA=="}, {"Authorization": "Bearer"}],
    ids=["no header", "basic", "bearer without token"],
)
async def test_requests_without_a_bearer_token_get_401(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await client.get("/api/v1/issues", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_a_disabled_user_gets_400_inactive(client: httpx.AsyncClient) -> None:
    token = _signed({"sub": "eve", "exp": _exp()})
    for response in (
        await client.get("/api/v1/issues", headers=bearer(token)),
        await client.get("/users/me", headers=bearer(token)),
    ):
        assert response.status_code == 400
        assert response.json() == {"detail": "Inactive user"}
    # `current_user` alone lets disabled users through, for hosts that want that.
    whoami = await client.get("/whoami-even-if-disabled", headers=bearer(token))
    assert whoami.status_code == 200
    assert whoami.json()["disabled"] is True


async def test_users_are_looked_up_on_every_request(
    client: httpx.AsyncClient, users: InMemoryUserStore
) -> None:
    token = (await login(client, "ada", PASSWORD)).json()["access_token"]
    assert (await client.get("/api/v1/issues", headers=bearer(token))).status_code == 200
    await users.update("ada", UserUpdate(disabled=True))
    response = await client.get("/api/v1/issues", headers=bearer(token))
    assert response.status_code == 400
    assert response.json() == {"detail": "Inactive user"}


async def test_the_reporter_of_a_new_issue_is_the_logged_in_user(
    client: httpx.AsyncClient,
) -> None:
    token = (await login(client, "ada", PASSWORD)).json()["access_token"]
    created = await client.post("/api/v1/issues", json=ISSUE, headers=bearer(token))
    assert created.status_code == 201
    assert created.json()["reporter"] == "ada"


async def test_tokens_need_the_configured_issuer_and_audience(users: InMemoryUserStore) -> None:
    from fastapi import FastAPI

    from fastapi_issues.auth import current_active_user
    from fastapi_issues.routers.issues import make_issue_router
    from fastapi_issues.storage import InMemoryIssueStore

    strict = AuthSettings(secret_key=SECRET, issuer="https://issues.example", audience="api")
    app = FastAPI()
    app.include_router(
        make_issue_router(InMemoryIssueStore(), auth_dependency=current_active_user(users, strict))
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        good = create_access_token("ada", strict)
        assert (await client.get("/api/v1/issues", headers=bearer(good))).status_code == 200
        plain = create_access_token("ada", AuthSettings(secret_key=SECRET))
        assert (await client.get("/api/v1/issues", headers=bearer(plain))).status_code == 401


@pytest.mark.parametrize("bad", sorted(BAD_TOKENS))
async def test_websocket_user_refuses_what_current_user_refuses(
    users: InMemoryUserStore, settings: AuthSettings, bad: str
) -> None:
    resolve = websocket_user(users, settings)
    with pytest.raises(HTTPException) as refused:
        await resolve(BAD_TOKENS[bad]())
    assert refused.value.status_code == 401


async def test_websocket_user_names_active_users_only(
    users: InMemoryUserStore, settings: AuthSettings
) -> None:
    resolve = websocket_user(users, settings)

    ada = await resolve(create_access_token("ada", settings))
    eve = await resolve(create_access_token("eve", settings))  # disabled

    assert ada is not None
    assert ada.username == "ada"
    assert not hasattr(ada, "hashed_password")
    assert eve is None
    with pytest.raises(HTTPException):
        await resolve(create_access_token("nobody", settings))
