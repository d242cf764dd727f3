from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse
from starlette.exceptions import HTTPException
from starlette.types import Receive, Scope, Send

from fastapi_issues.middleware import (
    DEFAULT_MAX_BODY_BYTES,
    BodySizeLimitMiddleware,
    ProcessTimeMiddleware,
)

pytestmark = pytest.mark.anyio


async def test_process_time_header_on_plain_and_streaming_responses() -> None:
    app = FastAPI()

    @app.get("/plain")
    async def plain() -> dict[str, str]:
        return {"ok": "yes"}

    @app.get("/stream")
    async def stream() -> StreamingResponse:
        async def chunks():  # type: ignore[no-untyped-def]
            for n in range(3):
                yield f"{n}\n".encode()

        return StreamingResponse(chunks(), media_type="text/plain")

    app.add_middleware(ProcessTimeMiddleware)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as client:
        for path in ("/plain", "/stream", "/missing"):
            response = await client.get(path)
            assert re.fullmatch(r"\d+\.\d{4}s", response.headers["X-Process-Time"]), path
        assert (await client.get("/stream")).text == "0\n1\n2\n"


# -- BodySizeLimitMiddleware ---------------------------------------------------------------


def body_echo_app(limit: int, calls: list[str]) -> FastAPI:
    app = FastAPI()

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, int]:
        calls.append("echo")
        return {"received": len(await request.body())}

    @app.post("/json")
    async def json_body(payload: dict[str, str]) -> dict[str, int]:
        return {"keys": len(payload)}

    app.add_middleware(BodySizeLimitMiddleware, max_body_bytes=limit)
    return app


class CountingBody:
    """A request body streamed in chunks, with no Content-Length, that counts what was read."""

    def __init__(self, chunks: int, size: int) -> None:
        self.chunks = chunks
        self.size = size
        self.read = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for _ in range(self.chunks):
            self.read += 1
            yield b"x" * self.size


def client_for(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def test_bodies_up_to_the_limit_pass() -> None:
    calls: list[str] = []
    async with client_for(body_echo_app(100, calls)) as client:
        for size in (0, 1, 100):
            response = await client.post("/echo", content=b"x" * size)
            assert response.status_code == 200
            assert response.json() == {"received": size}
        chunked = CountingBody(chunks=10, size=10)
        response = await client.post("/echo", content=chunked)  # type: ignore[arg-type]
        assert response.json() == {"received": 100}


async def test_declared_length_over_the_limit_is_refused_before_the_app_runs() -> None:
    calls: list[str] = []
    async with client_for(body_echo_app(100, calls)) as client:
        response = await client.post("/echo", content=b"x" * 101)
    assert response.status_code == 413
    assert response.json() == {"detail": "Request body too large; the limit is 100 bytes"}
    assert response.headers["connection"] == "close"
    assert calls == []


async def test_chunked_body_is_cut_off_once_it_passes_the_limit() -> None:
    calls: list[str] = []
    body = CountingBody(chunks=10_000, size=1024)  # 10 MiB, if anyone read it all
    async with client_for(body_echo_app(64 * 1024, calls)) as client:
        response = await client.post("/echo", content=body)  # type: ignore[arg-type]
    assert response.status_code == 413
    assert response.json()["detail"] == "Request body too large; the limit is 65536 bytes"
    assert response.headers["connection"] == "close"
    # Reading stopped at the first chunk past the limit.
    assert body.read == 65
    assert calls == ["echo"]


async def test_chunked_json_body_over_the_limit_gets_413_not_a_parse_error() -> None:
    body = CountingBody(chunks=1000, size=1024)
    async with client_for(body_echo_app(4096, [])) as client:
        headers = {"content-type": "application/json"}
        response = await client.post("/json", content=body, headers=headers)  # type: ignore[arg-type]
    assert response.status_code == 413
    assert body.read == 5


async def test_overflow_after_the_response_started_is_not_hidden() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        while (await receive()).get("more_body"):
            pass

    guarded = BodySizeLimitMiddleware(app, max_body_bytes=10)
    async with client_for(guarded) as client:
        with pytest.raises(HTTPException) as caught:
            await client.post("/", content=CountingBody(chunks=5, size=10))  # type: ignore[arg-type]
    assert caught.value.status_code == 413


async def test_lifespan_and_other_scopes_pass_through() -> None:
    seen: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["type"])

    await BodySizeLimitMiddleware(app, max_body_bytes=0)({"type": "lifespan"}, None, None)  # type: ignore[arg-type]
    assert seen == ["lifespan"]


def test_limit_must_be_a_byte_count() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        pass

    with pytest.raises(ValueError, match="non-negative"):
        BodySizeLimitMiddleware(app, max_body_bytes=-1)
    assert BodySizeLimitMiddleware(app).max_body_bytes == DEFAULT_MAX_BODY_BYTES == 1024 * 1024


async def test_http2_body_of_undeclared_length_is_counted_too() -> None:
    # HTTP/2 streams a body without Content-Length or Transfer-Encoding.
    chunks = [b"x" * 60, b"x" * 60, b"x" * 60]
    sent: list[dict[str, Any]] = []

    async def reading_app(scope: Scope, receive: Receive, send: Send) -> None:
        while (await receive()).get("more_body", False):
            pass
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"read it all"})

    async def receive() -> dict[str, Any]:
        body = chunks.pop(0)
        return {"type": "http.request", "body": body, "more_body": bool(chunks)}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "http_version": "2", "method": "POST", "headers": []}
    await BodySizeLimitMiddleware(reading_app, max_body_bytes=100)(scope, receive, send)
    assert sent[0]["status"] == 413
    assert chunks == [b"x" * 60]  # stopped at the chunk that passed the limit
