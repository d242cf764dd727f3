"""Every router caps request bodies with FastAPI's own `max_body_size` (1 MiB by default)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from fastapi_issues import (
    DEFAULT_MAX_BODY_SIZE,
    InMemoryIssueStore,
    IssueQuery,
    make_comment_router,
    make_issue_router,
    make_label_router,
)

pytestmark = pytest.mark.anyio

BASE = "/api/v1/issues"
NEW = {"title": "Abc", "description": "Hello"}


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


def tracker(store: InMemoryIssueStore, **limit: int | None) -> httpx.AsyncClient:
    app = FastAPI()
    app.include_router(make_issue_router(store, **limit))
    app.include_router(make_label_router(store, **limit))
    app.include_router(make_comment_router(store, **limit))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


def assert_too_large(response: httpx.Response) -> None:
    assert response.status_code == 413
    assert "Content Too Large" in response.text


async def test_the_default_limit_is_one_mebibyte_on_every_router() -> None:
    store = InMemoryIssueStore()
    assert DEFAULT_MAX_BODY_SIZE == 1024 * 1024
    async with tracker(store) as client:
        padding = "x" * (DEFAULT_MAX_BODY_SIZE - 100)
        assert (await client.post(BASE, json={**NEW, "padding": padding})).status_code == 201
        issue_id = (await client.get(BASE)).json()[0]["id"]
        big = "x" * DEFAULT_MAX_BODY_SIZE
        for path in (BASE, "/api/v1/labels", f"{BASE}/{issue_id}/comments"):
            assert_too_large(await client.post(path, json={**NEW, "name": "a", "padding": big}))
    assert (await store.list(IssueQuery())).total == 1


async def test_a_declared_length_over_the_limit_is_refused_before_anything_is_stored() -> None:
    store = InMemoryIssueStore()
    async with tracker(store, max_body_size=300) as client:
        assert (await client.post(BASE, json=NEW)).status_code == 201
        assert_too_large(await client.post(BASE, json={**NEW, "description": "x" * 300}))
        assert_too_large(await client.post(BASE, content=b"x" * 301))
    assert (await store.list(IssueQuery())).total == 1


async def test_a_chunked_body_is_cut_off_once_it_passes_the_limit() -> None:
    body = CountingBody(chunks=10_000, size=1024)  # 10 MiB, if anyone read it all
    async with tracker(InMemoryIssueStore(), max_body_size=64 * 1024) as client:
        headers = {"content-type": "application/json"}
        response = await client.post(BASE, content=body, headers=headers)  # type: ignore[arg-type]
    assert_too_large(response)
    assert body.read == 65  # reading stopped at the first chunk past the limit


async def test_none_leaves_the_size_to_the_app() -> None:
    async with tracker(InMemoryIssueStore(), max_body_size=None) as client:
        padding = "x" * (2 * DEFAULT_MAX_BODY_SIZE)
        assert (await client.post(BASE, json={**NEW, "padding": padding})).status_code == 201


def test_a_negative_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        make_issue_router(InMemoryIssueStore(), max_body_size=-1)
