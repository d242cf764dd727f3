"""Pure ASGI middleware for host apps. Pure ASGI, unlike `BaseHTTPMiddleware`, adds no task
or memory stream per request and never buffers a streaming response."""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["ProcessTimeMiddleware"]


class ProcessTimeMiddleware:
    """Adds `X-Process-Time: 0.0012s`, the seconds from request to response start."""

    def __init__(self, app: ASGIApp, header_name: str = "x-process-time") -> None:
        self.app = app
        self.header_name = header_name.lower().encode("latin-1")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()

        async def send_with_time(message: Message) -> None:
            if message["type"] == "http.response.start":
                elapsed = f"{time.perf_counter() - start:.4f}s".encode("latin-1")
                message["headers"] = [*message.get("headers", ()), (self.header_name, elapsed)]
            await send(message)

        await self.app(scope, receive, send_with_time)
