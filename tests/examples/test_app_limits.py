"""The example app's request body limit, in process and through a real uvicorn socket."""

from __future__ import annotations

import contextlib
import re
import select
import socket
import time
from pathlib import Path

import httpx
import pytest
from examples.app import create_app

from tests.servers import ExampleAppServer

BASE = "/api/v1/issues"


def client_for(tmp_path: Path, **env: str) -> httpx.AsyncClient:
    # Auth is off where a test needs writes to pass; the limit does not depend on it.
    app = create_app({"ISSUES_STORAGE_URL": str(tmp_path / "issues.json"), **env})
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


@pytest.mark.anyio
async def test_default_limit_is_one_mebibyte(tmp_path: Path) -> None:
    async with client_for(tmp_path, FASTAPI_ISSUES_AUTH="off") as client:
        padding = "x" * (1024 * 1024 - 100)
        body = {"title": "Abc", "description": "Hello", "padding": padding}
        assert (await client.post(BASE, json=body)).status_code == 201
        body["padding"] = "x" * (1024 * 1024)
        response = await client.post(BASE, json=body)
        assert response.status_code == 413
        assert "Content Too Large" in response.text
        assert int((await client.get(BASE)).headers["X-Total-Count"]) == 1


@pytest.mark.anyio
async def test_limit_is_configurable_and_the_413_is_readable_cross_origin(tmp_path: Path) -> None:
    origin = "https://app.example"
    async with client_for(
        tmp_path,
        FASTAPI_ISSUES_AUTH="off",
        FASTAPI_ISSUES_MAX_BODY_BYTES="300",
        FASTAPI_ISSUES_CORS_ORIGINS=origin,
    ) as client:
        small = {"title": "Abc", "description": "Hello"}
        assert (await client.post(BASE, json=small)).status_code == 201
        response = await client.post(
            BASE, json={**small, "description": "x" * 300}, headers={"Origin": origin}
        )
        assert response.status_code == 413
        assert response.headers["Access-Control-Allow-Origin"] == origin


@pytest.mark.anyio
async def test_oversized_bodies_are_refused_before_anyone_logs_in(tmp_path: Path) -> None:
    async with client_for(tmp_path, FASTAPI_ISSUES_MAX_BODY_BYTES="1000") as client:
        small = await client.post(BASE, json={"title": "Abc", "description": "Hello"})
        assert small.status_code == 401
        big = await client.post(BASE, content=b"x" * 1001)
        assert big.status_code == 413
        login = await client.post("/token", data={"username": "a", "password": "x" * 2000})
        assert login.status_code == 413


def send_chunked_until_answered(port: int) -> tuple[bytes, int, bytes]:
    """Stream a chunked POST that never ends until the server answers, then end the body and
    ask for `/health` on the same connection; return the answer, the bytes sent, and what
    came back for `/health`."""
    chunk = b"x" * 16384
    framed = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(
            f"POST {BASE} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\n\r\n".encode()
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
            try:
                sock.sendall(framed)
            except OSError:  # the server closed the connection: its answer is waiting
                break
            sent += len(chunk)
        answer = b""
        while b"\r\n\r\n" not in answer:
            data = sock.recv(65536)
            if not data:
                break
            answer += data
        # The rest of the refused body must be skipped, not read as a request of its own.
        next_answer = b""
        with contextlib.suppress(OSError):
            sock.sendall(b"0\r\n\r\nGET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            while b"status" not in next_answer:
                data = sock.recv(65536)
                if not data:
                    break
                next_answer += data
    return answer, sent, next_answer


@pytest.mark.slow
def test_real_server_cuts_off_a_chunked_body_it_will_not_take(tmp_path: Path) -> None:
    limit = 64 * 1024
    env = {
        "ISSUES_STORAGE_URL": str(tmp_path / "issues.json"),
        "FASTAPI_ISSUES_MAX_BODY_BYTES": str(limit),
        "FASTAPI_ISSUES_AUTH": "off",
    }
    with ExampleAppServer(tmp_path, env) as server:
        answer, sent, after = send_chunked_until_answered(server.port)
        # The body never ended, so only a server that stopped reading could answer at all.
        assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
        assert sent > limit
        # What followed the refused body was framed as such: the connection either closed
        # or answered the next request, never a request made of the body's bytes.
        statuses = re.findall(rb"HTTP/1\.1 (\d{3}) ", answer + after)
        assert statuses in ([b"413"], [b"413", b"200"]), (answer + after)[:400]
        big = httpx.post(f"{server.base_url}{BASE}", content=b"x" * (limit + 1))
        assert big.status_code == 413
        # The server goes on serving.
        small = {"title": "Abc", "description": "Hello"}
        assert httpx.post(f"{server.base_url}{BASE}", json=small).status_code == 201
    assert "Traceback" not in server.log.read_text()


def test_every_operation_that_takes_a_body_documents_413(tmp_path: Path) -> None:
    app = create_app(
        {"ISSUES_STORAGE_URL": str(tmp_path / "issues.json"), "FASTAPI_ISSUES_REGISTRATION": "on"}
    )
    with_body = [
        (path, method, operation)
        for path, item in app.openapi()["paths"].items()
        for method, operation in item.items()
        if "requestBody" in operation
    ]
    assert len(with_body) >= 5  # create, put, patch, token, register
    for path, method, operation in with_body:
        assert "413" in operation["responses"], (method, path)
