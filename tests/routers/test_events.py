"""The event router's HTTP reads: each issue's timeline and the feed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI, Header, HTTPException
from starlette.routing import NoMatchFound

from fastapi_issues import (
    InMemoryIssueStore,
    IssueCreate,
    IssueOut,
    LiveLimits,
    make_event_router,
    make_issue_router,
)
from fastapi_issues.routers._kernel import IssueAction, username

pytestmark = pytest.mark.anyio

API = "/api/v1"
ISSUES = f"{API}/issues"
EVENTS = f"{API}/events"


async def header_user(x_user: str = Header(default="")) -> str:
    if not x_user:
        raise HTTPException(401, "Not authenticated")
    return x_user


def own_issues_only(user: Any, action: IssueAction, issue: IssueOut | None) -> bool:
    """Everyone may list; only an issue's reporter (or root) may read or change it."""
    if issue is None:
        return bool(user != "nobody")
    return bool(user == "root" or issue.reporter == username(user))


async def no_socket_user(token: str) -> None:
    return None


def make_app(store: InMemoryIssueStore | None = None, **kwargs: Any) -> FastAPI:
    store = store or InMemoryIssueStore()
    app = FastAPI()
    issue_kwargs = {k: v for k, v in kwargs.items() if k in ("auth_dependency", "policy")}
    app.include_router(make_issue_router(store, **issue_kwargs))
    if "auth_dependency" in kwargs:
        kwargs.setdefault("websocket_user", no_socket_user)
    app.include_router(make_event_router(store, **kwargs))
    return app


def client_for(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(make_app()) as c:
        yield c


async def new_issue(client: httpx.AsyncClient, user: str | None = None, **fields: Any) -> str:
    body = {"title": "Issue one", "description": "Something is broken", **fields}
    headers = {"X-User": user} if user else {}
    response = await client.post(ISSUES, json=body, headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def close(client: httpx.AsyncClient, issue_id: str, user: str | None = None) -> None:
    headers = {"X-User": user} if user else {}
    response = await client.patch(
        f"{ISSUES}/{issue_id}", json={"status": "closed"}, headers=headers
    )
    assert response.status_code == 200, response.text


# The timeline


async def test_timeline_lists_an_issues_events_oldest_first(client: httpx.AsyncClient) -> None:
    issue = await new_issue(client)
    other = await new_issue(client)
    await close(client, issue)
    await client.patch(f"{ISSUES}/{issue}", json={"status": "open"})

    response = await client.get(f"{ISSUES}/{issue}/events")

    assert response.status_code == 200
    assert [e["type"] for e in response.json()] == [
        "issue.created",
        "issue.closed",
        "issue.reopened",
    ]
    assert {e["issue_id"] for e in response.json()} == {issue}
    assert response.headers["X-Total-Count"] == "3"
    ids = [e["id"] for e in response.json()]
    assert ids == sorted(ids)
    other_events = (await client.get(f"{ISSUES}/{other}/events")).json()
    assert [e["type"] for e in other_events] == ["issue.created"]


async def test_timeline_pages_like_the_issue_list(client: httpx.AsyncClient) -> None:
    issue = await new_issue(client)
    for n in range(4):
        await client.patch(f"{ISSUES}/{issue}", json={"title": f"Title number {n}"})

    first = await client.get(f"{ISSUES}/{issue}/events", params={"limit": 2})
    last = await client.get(f"{ISSUES}/{issue}/events", params={"limit": 2, "page": 3})

    assert first.headers["X-Total-Count"] == "5"
    base = f"http://test{ISSUES}/{issue}/events?limit=2"
    assert first.headers["Link"] == (
        f'<{base}&page=1>; rel="first", <{base}&page=2>; rel="next", <{base}&page=3>; rel="last"'
    )
    assert [e["type"] for e in first.json()] == ["issue.created", "issue.updated"]
    assert [e["changes"]["title"]["to"] for e in last.json()] == ["Title number 3"]


async def test_timeline_is_404_exactly_when_the_issue_is(client: httpx.AsyncClient) -> None:
    issue = await new_issue(client)
    assert (await client.get(f"{ISSUES}/no-such-issue/events")).status_code == 404

    await client.delete(f"{ISSUES}/{issue}")

    assert (await client.get(f"{ISSUES}/{issue}")).status_code == 404
    assert (await client.get(f"{ISSUES}/{issue}/events")).status_code == 404


@pytest.mark.parametrize(
    "query",
    [{"page": "0"}, {"limit": "0"}, {"limit": "101"}, {"page": "x"}],
)
async def test_timeline_refuses_bad_paging(
    client: httpx.AsyncClient, query: dict[str, str]
) -> None:
    issue = await new_issue(client)
    assert (await client.get(f"{ISSUES}/{issue}/events", params=query)).status_code == 422


# The feed


async def test_feed_lists_events_after_an_id_ascending(client: httpx.AsyncClient) -> None:
    first = await new_issue(client)
    second = await new_issue(client)
    await close(client, first)

    everything = (await client.get(EVENTS)).json()
    later = (await client.get(EVENTS, params={"after": everything[0]["id"]})).json()

    assert [(e["type"], e["issue_id"]) for e in everything] == [
        ("issue.created", first),
        ("issue.created", second),
        ("issue.closed", first),
    ]
    assert later == everything[1:]


async def test_feed_link_next_carries_the_last_id(client: httpx.AsyncClient) -> None:
    for _ in range(3):
        await new_issue(client)

    page = await client.get(EVENTS, params={"limit": 2, "type": "issue.created"})
    ids = [e["id"] for e in page.json()]
    assert len(ids) == 2
    assert page.headers["Link"] == (
        f'<http://test{EVENTS}?limit=2&type=issue.created&after={ids[-1]}>; rel="next"'
    )
    rest = await client.get(page.headers["Link"][1:].split(">")[0])
    assert [e["id"] for e in rest.json()] == [ids[-1] + 1]
    # At the end the link still points after the last id, for polling.
    end = await client.get(EVENTS, params={"after": ids[-1] + 1})
    assert end.json() == []
    assert f"after={ids[-1] + 1}" in end.headers["Link"]


async def test_feed_filters_by_type_repeated_and_by_issue(client: httpx.AsyncClient) -> None:
    first = await new_issue(client)
    second = await new_issue(client)
    await close(client, first)
    await close(client, second)

    closed_or_created = await client.get(
        EVENTS, params={"type": ["issue.closed", "issue.created"], "issue_id": second}
    )
    only_closed = await client.get(EVENTS, params={"type": "issue.closed"})

    assert [e["type"] for e in closed_or_created.json()] == ["issue.created", "issue.closed"]
    assert {e["issue_id"] for e in closed_or_created.json()} == {second}
    assert [e["issue_id"] for e in only_closed.json()] == [first, second]


@pytest.mark.parametrize(
    "query",
    [
        {"type": "issue.exploded"},
        {"after": "-1"},
        {"after": "x"},
        {"limit": "0"},
        {"limit": "101"},
        {"issue_id": "x" * 101},
        {"issue_id": "a\x00b"},
    ],
)
async def test_feed_refuses_bad_queries(client: httpx.AsyncClient, query: dict[str, str]) -> None:
    response = await client.get(EVENTS, params=query)
    assert response.status_code == 422, response.text


@pytest.mark.parametrize("resume", ["x", "-1", "1.5", "\u00b2", "9" * 20, str(2**63), ""])
async def test_stream_refuses_a_malformed_last_event_id(
    client: httpx.AsyncClient, resume: str
) -> None:
    # Latin-1, as servers decode header bytes: "\u00b2" arrives as a superscript two.
    headers = {"Last-Event-ID": resume.encode("latin-1")}
    response = await client.get(f"{EVENTS}/stream", headers=headers)
    assert response.status_code == 400
    assert response.json() == {"detail": "Last-Event-ID must be an event id"}


# Who may see what


@pytest.fixture
async def guarded() -> AsyncIterator[httpx.AsyncClient]:
    app = make_app(auth_dependency=header_user, policy=own_issues_only)
    async with client_for(app) as c:
        yield c


async def test_feed_carries_only_events_of_issues_the_user_may_read(
    guarded: httpx.AsyncClient,
) -> None:
    adas = await new_issue(guarded, "ada")
    bobs = await new_issue(guarded, "bob")
    await close(guarded, bobs, "bob")
    await close(guarded, adas, "ada")

    ada = (await guarded.get(EVENTS, headers={"X-User": "ada"})).json()
    root = (await guarded.get(EVENTS, headers={"X-User": "root"})).json()

    assert [(e["type"], e["issue_id"]) for e in ada] == [
        ("issue.created", adas),
        ("issue.closed", adas),
    ]
    assert len(root) == 4


async def test_a_deleted_issues_event_is_judged_on_the_issue_as_it_last_was(
    guarded: httpx.AsyncClient,
) -> None:
    bobs = await new_issue(guarded, "bob")
    await guarded.delete(f"{ISSUES}/{bobs}", headers={"X-User": "bob"})

    bob = (await guarded.get(EVENTS, headers={"X-User": "bob"})).json()
    ada = (await guarded.get(EVENTS, headers={"X-User": "ada"})).json()
    deleted_only = await guarded.get(
        EVENTS, params={"type": "issue.deleted"}, headers={"X-User": "bob"}
    )

    assert [e["type"] for e in bob] == ["issue.created", "issue.deleted"]
    assert bob[1]["issue"] is None
    assert ada == []
    assert [e["issue_id"] for e in deleted_only.json()] == [bobs]


async def test_feed_reads_past_hidden_events_to_fill_a_page(guarded: httpx.AsyncClient) -> None:
    adas = await new_issue(guarded, "ada")
    for _ in range(150):  # more than one read of the log
        await new_issue(guarded, "bob")
    last_ada = await new_issue(guarded, "ada")

    page = await guarded.get(EVENTS, params={"limit": 2}, headers={"X-User": "ada"})

    assert [e["issue_id"] for e in page.json()] == [adas, last_ada]
    assert page.headers["Link"].endswith(f'after={page.json()[-1]["id"]}>; rel="next"')


async def test_timeline_of_a_hidden_issue_is_404(guarded: httpx.AsyncClient) -> None:
    bobs = await new_issue(guarded, "bob")
    timeline = f"{ISSUES}/{bobs}/events"
    assert (await guarded.get(timeline, headers={"X-User": "ada"})).status_code == 404
    assert (await guarded.get(timeline, headers={"X-User": "bob"})).status_code == 200


@pytest.mark.parametrize(
    ("user", "timeline", "feed", "stream"),
    [
        (None, 401, 401, 401),  # not signed in
        ("nobody", 404, 403, 403),  # may not even list
        ("ada", 404, 200, 200),  # may list, but not read bob's issue
        ("bob", 200, 200, 200),  # the reporter
        ("root", 200, 200, 200),  # reads everything
    ],
)
async def test_who_may_and_who_may_not(
    user: str | None, timeline: int, feed: int, stream: int
) -> None:
    store = InMemoryIssueStore()
    app = make_app(store, auth_dependency=header_user, policy=own_issues_only)
    headers = {"X-User": user} if user else {}
    async with client_for(app) as c:
        bobs = await new_issue(c, "bob")
        assert (await c.get(f"{ISSUES}/{bobs}/events", headers=headers)).status_code == timeline
        assert (await c.get(EVENTS, headers=headers)).status_code == feed
        # A refused stream answers before streaming; an allowed one is checked, not read,
        # here (ASGITransport does not stream): a bad Last-Event-ID proves it got past auth.
        bad_resume = {**headers, "Last-Event-ID": "not-an-id"}
        got = (await c.get(f"{EVENTS}/stream", headers=bad_resume)).status_code
        assert got == (400 if stream == 200 else stream)


# Options


async def test_exclude_and_dependencies_and_names() -> None:
    calls: list[str] = []

    async def counted() -> None:
        calls.append("feed")

    store = InMemoryIssueStore()
    app = FastAPI()
    app.include_router(
        make_event_router(
            store,
            name="audit",
            exclude=["timeline", "ws"],
            dependencies={"feed": [Depends(counted)]},
        )
    )
    async with client_for(app) as c:
        assert (await c.get(f"{EVENTS}")).status_code == 200
        assert (await c.get(f"{ISSUES}/x/events")).status_code == 404
        assert (await c.post(EVENTS)).status_code == 405
    assert calls == ["feed"]
    operations = {
        op["operationId"] for path in app.openapi()["paths"].values() for op in path.values()
    }
    assert operations == {"audit_list_events", "audit_stream_events"}
    assert app.url_path_for("audit:feed") == EVENTS
    with pytest.raises(NoMatchFound):
        app.url_path_for("audit:ws")


def test_operation_ids_and_route_names() -> None:
    app = make_app()
    paths = app.openapi()["paths"]
    assert paths[f"{ISSUES}/{{issue_id}}/events"]["get"]["operationId"] == "list_issue_events"
    assert paths[EVENTS]["get"]["operationId"] == "list_events"
    assert paths[f"{EVENTS}/stream"]["get"]["operationId"] == "stream_events"
    assert app.url_path_for("events:ws") == f"{EVENTS}/ws"


def test_unknown_operations_and_missing_socket_auth_are_refused() -> None:
    store = InMemoryIssueStore()
    with pytest.raises(ValueError, match="unknown event operations"):
        make_event_router(store, exclude=["nope"])
    with pytest.raises(ValueError, match="websocket_user"):
        make_event_router(store, auth_dependency=header_user)
    make_event_router(store, auth_dependency=header_user, exclude=["ws"])


@pytest.mark.parametrize(
    "limits",
    [{"max_subscribers": 0}, {"buffer": 0}, {"heartbeat": 0}, {"retry_after": -1}],
)
def test_live_limits_refuse_nonsense(limits: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="must be"):
        LiveLimits(**limits)


def test_live_limits_defaults_are_the_documented_ones() -> None:
    assert LiveLimits() == LiveLimits(
        max_subscribers=1000,
        buffer=256,
        heartbeat=15.0,
        retry_after=5,
        coalesce=0.02,
        coalesce_per_subscriber=0.001,
    )


async def test_head_is_served_beside_the_reads_but_not_the_stream(
    client: httpx.AsyncClient,
) -> None:
    issue = await new_issue(client)
    assert (await client.head(EVENTS)).headers["Link"].endswith('after=1>; rel="next"')
    assert (await client.head(f"{ISSUES}/{issue}/events")).headers["X-Total-Count"] == "1"
    for method in ("HEAD", "POST", "DELETE"):
        refused = await client.request(method, f"{EVENTS}/stream")
        assert (refused.status_code, refused.headers["Allow"]) == (405, "GET")
    assert (await client.post(EVENTS)).headers["Allow"] == "GET, HEAD"


async def test_feed_reads_a_bounded_stretch_of_hidden_events_per_request() -> None:
    store = InMemoryIssueStore()
    app = make_app(store, auth_dependency=header_user, policy=own_issues_only)
    for n in range(1100):
        await store.create(IssueCreate(title=f"Issue {n}", description="Not ada's"), reporter="bob")
    adas = await store.create(IssueCreate(title="Ada's", description="Her issue"), reporter="ada")
    async with client_for(app) as c:
        first = await c.get(EVENTS, headers={"X-User": "ada"})
        assert first.json() == []
        assert first.headers["Link"].endswith('after=1000>; rel="next"')
        second = await c.get(EVENTS, params={"after": 1000}, headers={"X-User": "ada"})
    assert [e["issue_id"] for e in second.json()] == [adas.id]
