"""`make_auth_router(throttle=...)`: failed logins over HTTP get 429 with `Retry-After`."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from fastapi_issues.auth import Passwords
from fastapi_issues.auth.throttle import LoginThrottle
from tests.auth.conftest import PASSWORD, AppFactory, login

pytestmark = pytest.mark.anyio


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def client_for(app: FastAPI, address: str = "203.0.113.7") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://test")


async def test_repeated_failures_get_429_with_retry_after(make_app: AppFactory) -> None:
    clock = Clock()
    async with client_for(make_app(throttle=LoginThrottle(clock=clock))) as client:
        for _ in range(5):
            assert (await login(client, "ada", "wrong")).status_code == 401
        refused = await login(client, "ada", PASSWORD)  # even the right password waits
        assert refused.status_code == 429
        assert refused.headers["Retry-After"] == "1"
        assert refused.json() == {"detail": "Too many failed logins; try again later"}
        clock.now += 1
        assert (await login(client, "ada", "wrong")).status_code == 401
        assert (await login(client, "ada", PASSWORD)).headers["Retry-After"] == "2"
        clock.now += 2
        assert (await login(client, "ada", PASSWORD)).status_code == 200


async def test_a_locked_out_user_gets_in_after_at_most_the_cap(make_app: AppFactory) -> None:
    clock = Clock()
    async with client_for(make_app(throttle=LoginThrottle(clock=clock))) as client:
        for _ in range(40):  # an attacker who keeps trying as soon as they may
            response = await login(client, "ada", "wrong")
            if response.status_code == 429:
                wait = int(response.headers["Retry-After"])
                assert wait <= 300
                clock.now += wait
        clock.now += 300
        assert (await login(client, "ada", PASSWORD)).status_code == 200


async def test_success_resets_the_count(make_app: AppFactory) -> None:
    async with client_for(make_app(throttle=LoginThrottle(clock=Clock()))) as client:
        for _ in range(3):
            for _ in range(4):
                assert (await login(client, "ada", "wrong")).status_code == 401
            assert (await login(client, "ada", PASSWORD)).status_code == 200


async def test_per_address_limit_spans_usernames(make_app: AppFactory) -> None:
    app = make_app(throttle=LoginThrottle(clock=Clock()))
    async with client_for(app) as sprayer:
        for n in range(20):
            assert (await login(sprayer, f"user{n}", "Winter2024!")).status_code == 401
        assert (await login(sprayer, "ada", PASSWORD)).status_code == 429
    async with client_for(app, address="198.51.100.9") as ada:
        assert (await login(ada, "ada", PASSWORD)).status_code == 200


async def test_throttled_logins_check_no_password(
    make_app: AppFactory, passwords: Passwords, monkeypatch: pytest.MonkeyPatch
) -> None:
    checks = 0
    original = passwords.verify_and_update

    async def counting(password: str, hashed: str) -> tuple[bool, str | None]:
        nonlocal checks
        checks += 1
        return await original(password, hashed)

    monkeypatch.setattr(passwords, "verify_and_update", counting)
    async with client_for(make_app(throttle=LoginThrottle(clock=Clock()))) as client:
        for _ in range(50):
            await login(client, "ada", "wrong")
    assert checks == 5


async def test_without_a_throttle_nothing_is_refused(make_app: AppFactory) -> None:
    async with client_for(make_app()) as client:
        for _ in range(30):
            assert (await login(client, "ada", "wrong")).status_code == 401
        assert (await login(client, "ada", PASSWORD)).status_code == 200


def test_openapi_documents_429_only_with_a_throttle(make_app: AppFactory) -> None:
    throttled = make_app(throttle=LoginThrottle()).openapi()["paths"]["/token"]["post"]
    assert "Retry-After" in throttled["responses"]["429"]["headers"]
    plain = make_app().openapi()["paths"]["/token"]["post"]
    assert "429" not in plain["responses"]


async def test_unknown_users_are_throttled_like_real_ones(make_app: AppFactory) -> None:
    async with client_for(make_app(throttle=LoginThrottle(clock=Clock()))) as client:
        for name in ("ada", "nobody"):
            codes = [(await login(client, name, "wrong")).status_code for _ in range(6)]
            assert codes == [401] * 5 + [429], name
