from __future__ import annotations

import re

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import StreamingResponse

from fastapi_issues.middleware import ProcessTimeMiddleware

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
