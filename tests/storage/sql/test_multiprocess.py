"""Several app processes on one database: concurrent creates and updates, nothing lost.

Each server is the example app under its own uvicorn process, so every request goes to a
known process and each of them serves a share of the load.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.servers import free_port, wait_until_up

ROOT = Path(__file__).resolve().parents[3]
CREATES = 300
COUNTERS = 4
INCREMENTS = 15
DEADLINE = 240  # seconds for the whole workload, so a hang fails instead of stalling CI

pytestmark = pytest.mark.slow


@contextmanager
def servers(storage_url: str, count: int, cwd: Path) -> Iterator[list[str]]:
    env = {
        **os.environ,
        "ISSUES_STORAGE_URL": storage_url,
        "FASTAPI_ISSUES_AUTH": "off",
        "PYTHONPATH": str(ROOT),
    }
    started: list[subprocess.Popen[bytes]] = []
    bases: list[str] = []
    try:
        for _ in range(count):
            port = free_port()
            command = [
                sys.executable, "-m", "uvicorn", "examples.app:app",
                "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
            ]  # fmt: skip
            started.append(subprocess.Popen(command, cwd=cwd, env=env))
            bases.append(f"http://127.0.0.1:{port}")
        for base, process in zip(bases, started, strict=True):
            wait_until_up(f"{base}/health", process)
        yield bases
    finally:
        for process in started:
            process.terminate()
        for process in started:
            process.wait(timeout=30)


async def workload(bases: list[str]) -> None:
    limits = httpx.Limits(max_connections=16)
    clients = [httpx.AsyncClient(base_url=base, limits=limits, timeout=60) for base in bases]
    gate = asyncio.Semaphore(32)

    def client(n: int) -> httpx.AsyncClient:
        return clients[n % len(clients)]

    async def create(n: int) -> str:
        async with gate:
            body = {"title": f"Issue {n}", "description": "From many processes"}
            response = await client(n).post("/api/v1/issues", json=body)
            assert response.status_code == 201, response.text
            return str(response.json()["id"])

    async def increment(issue_id: str, n: int) -> None:
        # Read-modify-write with If-Match, retried on 412, each try on the next server.
        for attempt in range(500):
            async with gate:
                http = client(n + attempt)
                current = await http.get(f"/api/v1/issues/{issue_id}")
                count = int(current.json()["title"].removeprefix("Count "))
                response = await http.patch(
                    f"/api/v1/issues/{issue_id}",
                    json={"title": f"Count {count + 1}"},
                    headers={"If-Match": current.headers["ETag"]},
                )
            if response.status_code == 200:
                return
            assert response.status_code == 412, response.text
        raise AssertionError("an increment never got through")

    async def close(issue_id: str, n: int) -> None:
        async with gate:
            response = await client(n).patch(
                f"/api/v1/issues/{issue_id}", json={"status": "closed"}
            )
            assert response.status_code == 200, response.text

    try:
        ids = await asyncio.gather(*(create(n) for n in range(CREATES)))
        assert len(set(ids)) == CREATES

        counters = []
        for n in range(COUNTERS):
            response = await client(n).post(
                "/api/v1/issues", json={"title": "Count 0", "description": "A shared counter"}
            )
            counters.append(response.json()["id"])
        # Counter increments and plain updates of other issues, all at once, on every server.
        await asyncio.gather(
            *(increment(c, n) for n in range(INCREMENTS) for c in counters),
            *(close(issue_id, n) for n, issue_id in enumerate(ids[::3])),
        )

        listings = []
        for http in clients:
            found: list[str] = []
            for page in range(1, 100):
                response = await http.get("/api/v1/issues", params={"page": page, "limit": 100})
                assert response.headers["X-Total-Count"] == str(CREATES + COUNTERS)
                found += [item["id"] for item in response.json()]
                if len(found) == CREATES + COUNTERS:
                    break
            listings.append(found)
            closed = await http.get("/api/v1/issues", params={"status": "closed"})
            assert closed.headers["X-Total-Count"] == str(len(ids[::3]))
            for counter in counters:
                body = (await http.get(f"/api/v1/issues/{counter}")).json()
                # No increment lost: each one was a new version on top of the last.
                assert body["title"] == f"Count {INCREMENTS}"
                assert body["version"] == INCREMENTS + 1
        # Every server sees the same issues in the same order, and all of them.
        assert all(listing == listings[0] for listing in listings)
        assert set(listings[0]) == set(ids) | set(counters)
    finally:
        for http in clients:
            await http.aclose()


def test_three_processes_on_one_sqlite_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'issues.db'}"
    with servers(url, 3, tmp_path) as bases:
        asyncio.run(asyncio.wait_for(workload(bases), DEADLINE))


@pytest.mark.anyio
async def test_two_processes_on_one_postgres_database(
    postgres_database: str, tmp_path: Path
) -> None:
    with servers(postgres_database, 2, tmp_path) as bases:
        await asyncio.wait_for(workload(bases), DEADLINE)
