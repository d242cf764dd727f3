"""The example app under `uvicorn --workers 4` on one JSON file: no acknowledged create is lost,
and every worker reads what another acknowledged."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.servers import free_port, wait_until_up

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_four_workers_one_file_1000_creates_all_survive(tmp_path: Path) -> None:
    data = tmp_path / "issues.json"
    port = free_port()
    env = {
        **os.environ,
        "ISSUES_STORAGE_URL": str(data),
        "FASTAPI_ISSUES_AUTH": "off",
        "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}",
    }
    server = subprocess.Popen(
        [
            sys.executable, "-m", "uvicorn", "examples.app:app",
            "--host", "127.0.0.1", "--port", str(port), "--workers", "4", "--log-level", "warning",
        ],
        cwd=tmp_path,
        env=env,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{base}/health", server)

        # Read-your-writes: each create, once acknowledged, is read back and commented on
        # at once, by whichever worker takes the request, while the others keep writing.
        missed: list[str] = []

        async def fire() -> list[str]:
            limits = httpx.Limits(max_connections=32)
            async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:
                gate = asyncio.Semaphore(32)

                async def one(n: int) -> str:
                    async with gate:
                        body = {"title": f"Issue {n}", "description": "From many workers"}
                        response = await client.post("/api/v1/issues", json=body)
                        assert response.status_code == 201, response.text
                        issue_id = str(response.json()["id"])
                        if n % 4:
                            return issue_id
                        read = await client.get(f"/api/v1/issues/{issue_id}")
                        comment = await client.post(
                            f"/api/v1/issues/{issue_id}/comments", json={"body": "Seen"}
                        )
                        missed.extend(
                            f"{r.request.method} {r.request.url.path} {r.status_code}"
                            for r in (read, comment)
                            if not r.is_success
                        )
                        return issue_id

                return await asyncio.gather(*(one(n) for n in range(1000)))

        ids = asyncio.run(fire())
        assert len(set(ids)) == 1000
        assert not missed, f"{len(missed)} of 500 reads missed an acknowledged create: {missed}"
        on_disk = {item["id"] for item in json.loads(data.read_text())["records"]}
        assert on_disk == set(ids)
        # Every worker sees the others' writes.
        for _ in range(8):
            listed = httpx.get(f"{base}/api/v1/issues", params={"limit": 1}, timeout=10)
            assert listed.headers["X-Total-Count"] == "1000"
    finally:
        server.terminate()
        server.wait(timeout=30)
