"""Pure ASGI middleware for host apps. Pure ASGI, unlike `BaseHTTPMiddleware`, adds no task
or memory stream per request and never buffers a streaming response."""

from __future__ import annotations

import contextlib
import json
import time

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["DEFAULT_MAX_BODY_BYTES", "BodySizeLimitMiddleware", "ProcessTimeMiddleware"]

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
"""The request body limit of `BodySizeLimitMiddleware` unless told otherwise: 1 MiB."""


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


class _BodyTooLarge(HTTPException):
    # An HTTPException, so that FastAPI passes it through its body parsing untouched and the
    # app's own handler can render it like any other error.
    def __init__(self, limit: int) -> None:
        super().__init__(413, _too_large_detail(limit))


def _too_large_detail(limit: int) -> str:
    return f"Request body too large; the limit is {limit} bytes"


class BodySizeLimitMiddleware:
    """Answers `413 Content Too Large` to request bodies over `max_body_bytes`.

    A `Content-Length` over the limit is refused before the app runs or a byte of the body
    is read. A body without one (chunked) is counted as it streams in, and the read that
    passes the limit fails, so no more than the limit plus one chunk is ever held.
    The 413 response closes the connection, since the rest of the body is never read.
    """

    def __init__(self, app: ASGIApp, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        if isinstance(max_body_bytes, bool) or max_body_bytes < 0:
            raise ValueError("max_body_bytes must be a non-negative number of bytes")
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_body_bytes
        declared, chunked = _body_framing(scope)
        if declared is not None and declared > limit:
            await _send_too_large(send, limit)
            return
        if not chunked and (declared is not None or scope.get("http_version") in _HTTP_1):
            # The server delivers no more than the declared length, and an HTTP/1 request
            # with neither header has no body, so there is nothing to count. (HTTP/2 may
            # stream a body of undeclared length, which is counted.)
            await self.app(scope, receive, send)
            return

        received = 0
        response_started = False

        async def receive_counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _BodyTooLarge(limit)
            return message

        async def send_tracked(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
                if received > limit:
                    # The app answered the overflow itself; the unread rest of the body
                    # must not be taken for the next request.
                    message["headers"] = [*message.get("headers", ()), _CLOSE]
            await send(message)

        try:
            await self.app(scope, receive_counted, send_tracked)
        except _BodyTooLarge:
            if response_started:
                raise
            await _send_too_large(send, limit)


_CLOSE = (b"connection", b"close")
_HTTP_1 = frozenset({"1.0", "1.1"})


def _body_framing(scope: Scope) -> tuple[int | None, bool]:
    """The declared `Content-Length`, and whether the body comes chunked instead."""
    length: int | None = None
    chunked = False
    for name, value in scope.get("headers", ()):
        name = name.lower()
        if name == b"content-length":
            # The server rejects a malformed length before we see it.
            with contextlib.suppress(ValueError):
                length = int(value)
        elif name == b"transfer-encoding":
            chunked = True
    return length, chunked


async def _send_too_large(send: Send, limit: int) -> None:
    body = json.dumps({"detail": _too_large_detail(limit)}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                _CLOSE,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
