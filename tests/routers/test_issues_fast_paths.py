"""The router's fast paths answer exactly as FastAPI's own handling would.

The list route validates its query in one step and pre-serialises its page, and the Link
header is built from one parse of the URL (see `bench/` for why). Each test compares with a
route declared the ordinary FastAPI way.
"""

from __future__ import annotations

from typing import Annotated, Any

import httpx
import pytest
from fastapi import FastAPI, Query, Request
from starlette.datastructures import URL

from fastapi_issues import InMemoryIssueStore, IssueCreate, IssueQuery, make_issue_router
from fastapi_issues.routers._pages import link_header
from fastapi_issues.routers._params import MAX_FILTER_VALUES, NO_NUL, IsoDateTime
from fastapi_issues.schemas import IsoDate, IssueOut, IssuePriority, IssueStatus
from fastapi_issues.storage.query import IssueSortField, SortDirection

pytestmark = pytest.mark.anyio
BASE = "/api/v1/issues"


def _reference_app() -> FastAPI:
    """The list route's parameters as they were declared before the fast path."""
    app = FastAPI()

    @app.get(BASE, response_model=list[IssueOut])
    async def list_issues(
        page: Annotated[int, Query(ge=1, le=1_000_000, description="Page number, from 1.")] = 1,
        limit: Annotated[int, Query(ge=1, le=100, description="Issues per page.")] = 20,
        status_: Annotated[
            list[IssueStatus] | None,
            Query(
                alias="status",
                max_length=MAX_FILTER_VALUES,
                description="Only these statuses (repeat to allow several).",
            ),
        ] = None,
        priority: Annotated[
            list[IssuePriority] | None,
            Query(
                max_length=MAX_FILTER_VALUES,
                description="Only these priorities (repeat to allow several).",
            ),
        ] = None,
        reporter: Annotated[
            str | None,
            Query(max_length=100, pattern=NO_NUL, description="Only issues this user reported."),
        ] = None,
        q: Annotated[
            str | None,
            Query(
                min_length=1,
                max_length=200,
                pattern=NO_NUL,
                description="Text to find in the title or description, ignoring case.",
            ),
        ] = None,
        created_since: Annotated[
            IsoDateTime | None, Query(description="Only issues created at or after this time.")
        ] = None,
        updated_since: Annotated[
            IsoDateTime | None, Query(description="Only issues updated at or after this time.")
        ] = None,
        due_before: Annotated[
            IsoDate | None,
            Query(
                description="Only issues due on or before this date (YYYY-MM-DD); "
                "issues without a due date never match."
            ),
        ] = None,
        due_after: Annotated[
            IsoDate | None,
            Query(
                description="Only issues due on or after this date (YYYY-MM-DD); "
                "issues without a due date never match."
            ),
        ] = None,
        labels: Annotated[
            str | None,
            Query(
                max_length=1000,
                pattern=NO_NUL,
                description="Comma-separated label names, ignoring case: only issues with all.",
            ),
        ] = None,
        assignee: Annotated[
            str | None,
            Query(
                min_length=1,
                max_length=100,
                pattern=NO_NUL,
                description="Only issues assigned to this user; `none` for unassigned ones, "
                "`*` for assigned ones.",
            ),
        ] = None,
        sort: Annotated[
            IssueSortField,
            Query(
                description="What to order by; by `due_date`, issues without one come last "
                "in either direction."
            ),
        ] = "created_at",
        direction: Annotated[SortDirection, Query(description="Ascending or descending.")] = "asc",
    ) -> Any:
        return []

    return app


def _app(store: InMemoryIssueStore | None = None) -> FastAPI:
    app = FastAPI()
    app.include_router(make_issue_router(store or InMemoryIssueStore()))
    return app


def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


def test_list_parameters_are_documented_as_fastapi_documents_them() -> None:
    ours = _app().openapi()["paths"][BASE]["get"]
    reference = _reference_app().openapi()["paths"][BASE]["get"]
    assert ours["parameters"] == reference["parameters"]
    assert ours["responses"]["422"] == reference["responses"]["422"]


def test_a_list_only_router_still_documents_its_422() -> None:
    app = FastAPI()
    app.include_router(
        make_issue_router(
            InMemoryIssueStore(), exclude={"create", "get", "update", "patch", "delete"}
        )
    )
    schema = app.openapi()
    operation = schema["paths"][BASE]["get"]
    assert operation["responses"]["422"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/HTTPValidationError"
    }
    assert "HTTPValidationError" in schema["components"]["schemas"]
    assert [p["name"] for p in operation["parameters"]] == [
        p["name"] for p in _reference_app().openapi()["paths"][BASE]["get"]["parameters"]
    ]


@pytest.mark.parametrize(
    "query",
    [
        "page=0",
        "page=abc&limit=101",
        "limit=0",
        "status=bogus",
        "status=open&status=nope",
        "priority=urgent",
        "q=",
        "q=" + "x" * 201,
        "reporter=" + "r" * 101,
        "created_since=yesterday",
        "updated_since=2024-13-01",
        "sort=colour&direction=sideways",
        "page=1&page=0",
        "status=open&" * 11,
        "reporter=a%00b",
        "q=%00",
        "created_since=1.5",
        "labels=" + "l" * 1001,
        "labels=a%00b",
        "assignee=",
        "assignee=" + "a" * 101,
        "assignee=a%00",
    ],
)
async def test_bad_list_queries_get_the_same_422(query: str) -> None:
    async with _client(_app()) as ours, _client(_reference_app()) as reference:
        mine = await ours.get(f"{BASE}?{query}")
        theirs = await reference.get(f"{BASE}?{query}")
    assert mine.status_code == theirs.status_code == 422
    assert mine.json() == theirs.json()


@pytest.mark.parametrize(
    "query",
    [
        "",
        "page=1&page=2",
        "status=open&status=closed&priority=high",
        "reporter=ada&q=LOGIN&sort=title&direction=desc",
        "created_since=2024-01-01T00:00:00&updated_since=2024-01-01T00:00:00Z",
        "unknown=1&limit=5",
    ],
)
async def test_good_list_queries_are_accepted_alike(query: str) -> None:
    async with _client(_app()) as ours, _client(_reference_app()) as reference:
        mine = await ours.get(f"{BASE}?{query}")
        theirs = await reference.get(f"{BASE}?{query}")
    assert mine.status_code == theirs.status_code == 200


async def test_filters_reach_the_store() -> None:
    store = InMemoryIssueStore()
    low = await store.create(
        IssueCreate(title="Low one", description="about login"), reporter="ada"
    )
    await store.create(IssueCreate(title="High one", description="other", priority="high"))
    async with _client(_app(store)) as client:
        page = await client.get(
            BASE, params={"priority": ["medium", "low"], "q": "LOGIN", "reporter": "ada"}
        )
        newest = await client.get(BASE, params={"sort": "created_at", "direction": "desc"})
    assert [i["id"] for i in page.json()] == [low.id]
    assert newest.json()[-1]["id"] == low.id


async def test_a_page_is_serialised_as_its_response_model() -> None:
    store = InMemoryIssueStore()
    for n in range(3):
        await store.create(IssueCreate(title=f"Issue {n}", description="Something broke"))
    async with _client(_app(store)) as client:
        response = await client.get(BASE, params={"limit": 2})
    items = (await store.list(IssueQuery(limit=2))).items
    assert response.headers["content-type"] == "application/json"
    assert response.json() == [issue.model_dump(mode="json") for issue in items]
    assert response.headers["X-Total-Count"] == "3"


@pytest.mark.parametrize(
    "url",
    [
        "http://test/api/v1/issues",
        "http://test/api/v1/issues?page=2",
        "http://test/api/v1/issues?limit=5&page=3&status=open&status=closed",
        "http://test/api/v1/issues?q=a%20b%26c&page=1&page=4&empty=",
        "https://example.com:8443/root/issues?q=%C3%A9t%C3%A9+x",
    ],
)
def test_link_header_matches_include_query_params(url: str) -> None:
    parsed = URL(url)
    scope = {
        "type": "http",
        "scheme": parsed.scheme,
        "server": (parsed.hostname, parsed.port or (443 if parsed.scheme == "https" else 80)),
        "path": parsed.path,
        "query_string": parsed.query.encode(),
        "headers": [(b"host", parsed.netloc.encode())],
    }
    request = Request(scope)
    for page, last in ((1, 1), (2, 5), (5, 5), (9, 5)):
        expected = [f'<{request.url.include_query_params(page=1)}>; rel="first"']
        if page > 1:
            expected.append(
                f'<{request.url.include_query_params(page=min(page - 1, last))}>; rel="prev"'
            )
        if page < last:
            expected.append(f'<{request.url.include_query_params(page=page + 1)}>; rel="next"')
        expected.append(f'<{request.url.include_query_params(page=last)}>; rel="last"')
        assert link_header(request, page, last) == ", ".join(expected)


async def test_a_store_dependency_is_still_resolved_per_request() -> None:
    stores = [InMemoryIssueStore(), InMemoryIssueStore()]
    calls: list[int] = []

    async def pick_store() -> InMemoryIssueStore:
        calls.append(1)
        return stores[len(calls) % 2]

    app = FastAPI()
    app.include_router(make_issue_router(pick_store))
    async with _client(app) as client:
        created = await client.post(BASE, json={"title": "Where", "description": "In one store"})
        first = await client.get(BASE)
        second = await client.get(BASE)
    assert created.status_code == 201
    assert len(calls) == 3
    assert {len(first.json()), len(second.json())} == {0, 1}
