"""HEAD answers as GET does, without the body (RFC 9110 9.3.2)."""

from __future__ import annotations

import httpx


async def assert_head_like_get(
    client: httpx.AsyncClient, url: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    """HEAD `url` and GET it: the same status and headers (`ETag`, `X-Total-Count`, `Link`,
    `Content-Length` among them), and no body for HEAD. Returns the GET response."""
    got = await client.get(url, headers=headers)
    head = await client.head(url, headers=headers)
    assert head.status_code == got.status_code, (url, head.status_code, head.headers)
    assert head.headers.multi_items() == got.headers.multi_items(), url
    assert head.content == b""
    return got
