"""The connections deliveries go out on: to checked addresses only, with no gap between the
check and the connect.

Checking a hook's URL and then letting the HTTP client resolve its name again would leave a
window: a name can answer the check with a public address and the connect with a private one
(DNS rebinding). So the client never resolves names here. `CheckedBackend`, an httpcore
network backend, resolves the host itself through `_targets.resolve_public` and connects to
the very addresses that passed. TLS is unaffected: httpcore takes the server name for SNI and
certificate checks from the URL, not from the address connected to.
"""

from __future__ import annotations

import asyncio
import ssl
import typing
from collections.abc import AsyncIterator, Iterable

import httpcore
import httpx

from fastapi_issues.webhooks import _targets

__all__ = ["CheckedBackend", "CheckedTransport"]


class CheckedBackend(httpcore.AsyncNetworkBackend):
    """Opens TCP connections only to addresses the target check lets through."""

    def __init__(self, *, allow_private: bool = False) -> None:
        self._allow_private = allow_private
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                addresses = await _targets.resolve_public(
                    host, port, allow_private=self._allow_private
                )
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"resolving {host!r} took over {timeout} s") from None
        failure: Exception = httpcore.ConnectError(f"{host!r} resolves to no address")
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except httpcore.ConnectError as exc:
                failure = exc
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("a hook cannot call a unix socket")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _AnswerStream(httpx.AsyncByteStream):
    def __init__(self, stream: typing.AsyncIterable[bytes]) -> None:
        self._stream = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for part in self._stream:
            yield part

    async def aclose(self) -> None:
        close = getattr(self._stream, "aclose", None)
        if close is not None:
            await close()


class CheckedTransport(httpx.AsyncBaseTransport):
    """An httpx transport over an httpcore pool whose connections `CheckedBackend` opens.

    httpx's own transport takes no network backend, hence this small one. It has no proxy
    on purpose: a proxy would connect on our behalf, past the check. httpcore's errors pass
    through as they are (the sender names both families).
    """

    def __init__(
        self,
        *,
        allow_private: bool = False,
        ssl_context: ssl.SSLContext | None = None,
        max_connections: int = 100,
    ) -> None:
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=5.0,
            network_backend=CheckedBackend(allow_private=allow_private),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        outgoing = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path
            ),
            headers=request.headers.raw,
            content=typing.cast(typing.AsyncIterable[bytes], request.stream),
            extensions=request.extensions,
        )
        answer = await self._pool.handle_async_request(outgoing)
        stream = typing.cast(typing.AsyncIterable[bytes], answer.stream)
        return httpx.Response(
            status_code=answer.status,
            headers=answer.headers,
            stream=_AnswerStream(stream),
            extensions=answer.extensions,
        )

    async def aclose(self) -> None:
        await self._pool.aclose()
