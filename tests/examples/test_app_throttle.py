"""The example app's login throttle, and argon2 staying off the event loop, in a real server."""

from __future__ import annotations

import asyncio
import statistics
import time
from pathlib import Path

import httpx
import pytest
from examples.app import create_app

from tests.servers import ExampleAppServer

PASSWORD = "a long enough password"


def token_responses(tmp_path: Path, **env: str) -> dict[str, object]:
    app = create_app({"ISSUES_STORAGE_URL": str(tmp_path / "issues.json"), **env})
    return app.openapi()["paths"]["/token"]["post"]["responses"]  # type: ignore[no-any-return]


def test_throttle_is_on_by_default_and_can_be_switched_off(tmp_path: Path) -> None:
    assert "429" in token_responses(tmp_path)
    assert "429" not in token_responses(tmp_path, FASTAPI_ISSUES_THROTTLE="off")


@pytest.mark.slow
def test_failed_logins_are_throttled_and_a_good_one_gets_through_later(tmp_path: Path) -> None:
    server = ExampleAppServer(tmp_path, {"ISSUES_STORAGE_URL": str(tmp_path / "issues.json")})
    server.add_user("ada", PASSWORD)
    with server, httpx.Client(base_url=server.base_url, timeout=30) as client:
        codes = [
            client.post("/token", data={"username": "ada", "password": "guess"}).status_code
            for _ in range(6)
        ]
        assert codes == [401] * 5 + [429]
        refused = client.post("/token", data={"username": "ada", "password": PASSWORD})
        assert refused.status_code == 429
        wait = int(refused.headers["Retry-After"])
        assert 1 <= wait <= 300
        time.sleep(wait)
        assert client.post("/token", data={"username": "ada", "password": PASSWORD}).is_success


async def one_login(base_url: str) -> float:
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        start = time.perf_counter()
        response = await client.post("/token", data={"username": "ada", "password": PASSWORD})
        assert response.status_code == 200, response.text
        return time.perf_counter() - start


async def serve_while_logging_in(base_url: str, logins: int) -> tuple[float, list[float]]:
    """Run `logins` real logins, four at a time, while GETting /health one after another;
    return how long the logins took and how long each GET took meanwhile."""
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        done = False
        latencies: list[float] = []

        async def probe() -> None:
            while not done:
                start = time.perf_counter()
                response = await client.get("/health")
                assert response.status_code == 200
                latencies.append(time.perf_counter() - start)

        # Four at a time: more concurrent logins for one username than the free failures
        # would be refused by the throttle until the first ones are decided.
        gate = asyncio.Semaphore(4)

        async def log_in() -> None:
            async with gate:
                form = {"username": "ada", "password": PASSWORD}
                response = await client.post("/token", data=form)
            assert response.status_code == 200, response.text

        probing = asyncio.create_task(probe())
        start = time.perf_counter()
        await asyncio.gather(*(log_in() for _ in range(logins)))
        took = time.perf_counter() - start
        done = True
        await probing
    return took, latencies


@pytest.mark.slow
def test_requests_are_served_while_logins_hash(tmp_path: Path) -> None:
    server = ExampleAppServer(tmp_path, {"ISSUES_STORAGE_URL": str(tmp_path / "issues.json")})
    server.add_user("ada", PASSWORD)
    with server:
        alone = min(asyncio.run(one_login(server.base_url)) for _ in range(3))
        took, latencies = asyncio.run(serve_while_logging_in(server.base_url, 12))
    typical = statistics.median(latencies)
    print(
        f"\none login {alone * 1000:.0f}ms; 12 logins took {took:.2f}s, with "
        f"{len(latencies)} GETs served meanwhile in {typical * 1000:.1f}ms (median), "
        f"{max(latencies) * 1000:.0f}ms at worst"
    )
    # Argon2 on the event loop would hold each GET for about one whole hash, so only about
    # as many GETs as logins could be answered, each taking about as long as a login.
    assert alone > 0.05  # real argon2 parameters
    assert typical < alone / 5
    assert len(latencies) > 5 * 12
