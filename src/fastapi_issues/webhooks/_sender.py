"""One attempt of one delivery: the signed POST, bounded in time and in what it reads, and
what it came to as an `AttemptResult` (never the secret, which only the signature uses)."""

from __future__ import annotations

import asyncio
import ssl
import time
from urllib.parse import urlsplit

import httpcore
import httpx

from fastapi_issues.storage.clock import Clock, system_clock
from fastapi_issues.storage.deliveries import RESPONSE_SNIPPET, AttemptResult, DueDelivery
from fastapi_issues.webhooks._network import CheckedTransport
from fastapi_issues.webhooks._signing import SIGNATURE_HEADER, sign
from fastapi_issues.webhooks._targets import TargetRefused

__all__ = ["READ_CAP", "Sender", "user_agent"]

READ_CAP = 64 * 1024
"""The most of an answer's body an attempt reads; the rest is never fetched."""

_TIMEOUTS = (httpx.TimeoutException, httpcore.TimeoutException)
_NO_ANSWER = (httpx.HTTPError, httpcore.NetworkError, httpcore.ProtocolError, OSError)


def user_agent() -> str:
    from fastapi_issues import __version__

    return f"fastapi-issues-webhooks/{__version__}"


class Sender:
    """Makes delivery attempts over one httpx client (its connections reused across them).

    `transport` replaces the checked one (tests); without it every new connection goes
    through the address check unless `allow_private`. Redirects are never followed (a 3xx
    is a failed attempt: following one would call an address nobody registered), proxies
    from the environment are never used (one would connect past the check).
    """

    def __init__(
        self,
        *,
        allow_private: bool = False,
        transport: httpx.AsyncBaseTransport | None = None,
        ssl_context: ssl.SSLContext | None = None,
        connect_timeout: float = 5.0,
        total_timeout: float = 10.0,
        read_cap: int = READ_CAP,
        clock: Clock = system_clock,
    ) -> None:
        if transport is None:
            transport = CheckedTransport(allow_private=allow_private, ssl_context=ssl_context)
        self._client = httpx.AsyncClient(
            transport=transport,
            follow_redirects=False,
            trust_env=False,
            timeout=httpx.Timeout(total_timeout, connect=connect_timeout),
        )
        self._connect_timeout = connect_timeout
        self._total_timeout = total_timeout
        self._read_cap = read_cap
        self._clock = clock
        self._agent = user_agent()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def attempt(self, delivery: DueDelivery) -> AttemptResult:
        """Send `delivery` once. `retry_at` is left None: the worker's retry policy sets it."""
        at = self._clock()
        started = time.perf_counter()
        status, response = await self._outcome(delivery)
        duration_ms = round((time.perf_counter() - started) * 1000, 3)
        ok = status is not None and 200 <= status < 300
        return AttemptResult(
            at=at, ok=ok, status_code=status, duration_ms=duration_ms, response=response
        )

    async def _outcome(self, delivery: DueDelivery) -> tuple[int | None, str]:
        if urlsplit(delivery.url).scheme not in ("http", "https"):
            return None, "refused: a hook URL must be http:// or https://"
        try:
            # httpx bounds each phase, not the whole: a server trickling a byte a second
            # would hold an attempt for ever without this.
            async with asyncio.timeout(self._total_timeout):
                return await self._post(delivery)
        except TimeoutError:
            return None, f"timed out after {self._total_timeout:g} s"
        except TargetRefused as exc:
            return None, f"refused: {exc}"
        except (httpx.ConnectTimeout, httpcore.ConnectTimeout):
            return None, f"could not connect within {self._connect_timeout:g} s"
        except _TIMEOUTS:
            return None, f"timed out after {self._total_timeout:g} s"
        except httpx.InvalidURL as exc:
            return None, f"refused: the hook URL is not valid ({exc})"
        except _NO_ANSWER as exc:
            return None, f"no answer: {type(exc).__name__}: {exc}"

    async def _post(self, delivery: DueDelivery) -> tuple[int, str]:
        request = self._client.build_request(
            "POST", delivery.url, content=delivery.body, headers=self._headers(delivery)
        )
        answer = await self._client.send(request, stream=True)
        try:
            body = await self._read(answer)
        finally:
            await answer.aclose()
        if answer.is_redirect or 300 <= answer.status_code < 400:
            where = answer.headers.get("location", "")[:200]
            return answer.status_code, f"redirect to {where!r} not followed"
        return answer.status_code, body.decode("utf-8", "replace")[:RESPONSE_SNIPPET]

    async def _read(self, answer: httpx.Response) -> bytes:
        # Raw bytes (no decompression), so the cap bounds what crosses the network and a
        # small gzip bomb cannot grow past it.
        parts: list[bytes] = []
        size = 0
        async for part in answer.aiter_raw():
            parts.append(part)
            size += len(part)
            if size >= self._read_cap:
                break
        return b"".join(parts)[: self._read_cap]

    def _headers(self, delivery: DueDelivery) -> dict[str, str]:
        return {
            "Content-Type": "application/json",
            "User-Agent": self._agent,
            "X-Issues-Event": delivery.event,
            "X-Issues-Delivery": delivery.id,
            "X-Issues-Hook-Id": delivery.hook_id,
            SIGNATURE_HEADER: sign(delivery.secret, delivery.body),
        }
