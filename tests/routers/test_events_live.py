"""The event router's live routes, over a real uvicorn server: Server-Sent Events and the
WebSocket, their replay, filters, policy, auth, and back-pressure."""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI, Header, HTTPException
from starlette.routing import NoMatchFound
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from websockets.exceptions import ConnectionClosed

import fastapi_issues.routers._live as _live
from fastapi_issues import (
    InMemoryIssueStore,
    IssueCreate,
    IssueOut,
    IssueStatus,
    IssueUpdate,
    LiveLimits,
    TrackerStore,
    make_event_router,
    make_issue_router,
)
from fastapi_issues.auth import (
    AuthSettings,
    InMemoryUserStore,
    UserInDB,
    create_access_token,
    current_active_user,
    websocket_user,
)
from fastapi_issues.routers._kernel import IssueAction, username
from fastapi_issues.schemas import EventOut
from fastapi_issues.storage.errors import StorageError
from fastapi_issues.storage.query import EventQuery
from fastapi_issues.storage.urls import close_store, open_issue_store, prepare_store
from tests.routers.live import WAIT, eventually, receive_json, serving, sse, websocket

pytestmark = pytest.mark.anyio

EVENTS = "/api/v1/events"
STREAM = f"{EVENTS}/stream"
WS = f"{EVENTS}/ws"
SECRET = "live-test-signing-key-" + "k" * 42


async def header_user(x_user: str = Header(default="")) -> str:
    if not x_user:
        raise HTTPException(401, "Not authenticated")
    return x_user


async def token_is_username(token: str) -> str | None:
    return None if token == "bad" else token


def own_issues_only(user: Any, action: IssueAction, issue: IssueOut | None) -> bool:
    return issue is None or issue.reporter == username(user)


def app_for(store: TrackerStore, **kwargs: Any) -> FastAPI:
    app = FastAPI()
    issue_kwargs = {k: v for k, v in kwargs.items() if k in ("auth_dependency", "policy")}
    app.include_router(make_issue_router(store, **issue_kwargs))
    app.include_router(make_event_router(store, **kwargs))
    return app


@pytest.fixture(params=["memory", "json", "sqlite", "postgres"])
def store_at(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str | None]:
    """Where `any_store` is: a store URL, and PostgreSQL's schema of this test's own."""
    if request.param == "postgres":
        return request.getfixturevalue("postgres_url"), request.getfixturevalue("postgres_schema")
    urls = {
        "memory": "memory://",
        "json": f"json://{tmp_path}/issues.json",
        "sqlite": f"sqlite:///{tmp_path}/issues.db",
    }
    return urls[request.param], None


@pytest.fixture
async def any_store(store_at: tuple[str, str | None]) -> AsyncIterator[TrackerStore]:
    url, schema = store_at
    store: TrackerStore
    if schema is not None:
        from fastapi_issues.storage.sql import SQLIssueStore

        store = SQLIssueStore(url, schema=schema)
    else:
        store = open_issue_store(url)
    await prepare_store(store)
    try:
        yield store
    finally:
        await close_store(store)


@pytest.fixture
async def store() -> InMemoryIssueStore:
    return InMemoryIssueStore()


async def create(
    store: TrackerStore, title: str = "Issue title", reporter: str | None = None
) -> IssueOut:
    return await store.create(
        IssueCreate(title=title, description="Something is broken"), reporter=reporter
    )


async def no_hubs_left() -> None:
    """Every hub stopped: subscribers gone, tasks ended."""
    await eventually(lambda: not _live._HUBS)


# Server-Sent Events


async def test_sse_replays_exactly_the_missed_events_then_goes_live(
    any_store: TrackerStore,
) -> None:
    for n in range(3):
        await create(any_store, f"Issue {n}")
    async with serving(app_for(any_store)) as base:
        async with httpx.AsyncClient(base_url=f"http://{base}") as client:
            feed = (await client.get(EVENTS)).json()
        async with sse(base, STREAM, headers={"Last-Event-ID": "1"}) as stream:
            assert stream.response.headers["X-Accel-Buffering"] == "no"
            assert stream.response.headers["content-type"].startswith("text/event-stream")
            replayed = await stream.events(2)
            live = await create(any_store, "Issue live")
            (after,) = await stream.events(1)
    await no_hubs_left()

    assert [(e.id, e.event) for e in replayed] == [("2", "issue.created"), ("3", "issue.created")]
    assert [e.json() for e in replayed] == feed[1:]
    assert after.id == "4"
    assert after.json()["issue"]["id"] == live.id


async def test_sse_last_event_id_wins_over_after_and_no_resume_point_means_from_now(
    store: InMemoryIssueStore,
) -> None:
    for n in range(3):
        await create(store, f"Issue {n}")
    async with serving(app_for(store)) as base:
        async with sse(base, STREAM, headers={"Last-Event-ID": "2"}, after=0) as resumed:
            (first,) = await resumed.events(1)
        async with sse(base, STREAM) as fresh:
            await _until_subscribed(1)
            await create(store, "Issue new")
            (new,) = await fresh.events(1)
    assert first.id == "3"
    assert new.id == "4"


async def _until_subscribed(count: int) -> None:
    await eventually(lambda: sum(hub.subscribers for hub in _live._HUBS.values()) >= count)
    async with asyncio.timeout(WAIT):
        for hub in list(_live._HUBS.values()):
            await hub.ready()


async def test_sse_switches_from_replay_to_live_without_gap_or_duplicate(
    store: InMemoryIssueStore,
) -> None:
    total = 120

    async def writer() -> None:
        for n in range(total):
            await create(store, f"Issue {n}")
            if n % 7 == 0:
                await asyncio.sleep(0.002)

    async with serving(app_for(store)) as base:
        writing = asyncio.create_task(writer())
        readers = []
        for start in (0, 10, 40):
            await eventually(functools.partial(_past, store, start))
            readers.append(asyncio.create_task(_read_ids(base, start, total)))
        await writing
        seen = await asyncio.gather(*readers)
    for start, ids in zip((0, 10, 40), seen, strict=True):
        assert ids == list(range(start + 1, total + 1))


async def _past(store: InMemoryIssueStore, start: int) -> bool:
    return await store.last_event_id() >= start


async def _read_ids(base: str, after: int, until: int) -> list[int]:
    ids: list[int] = []
    async with sse(base, STREAM, after=after) as stream:
        while not ids or ids[-1] < until:
            event = await stream.next()
            assert event is not None
            ids.append(int(event.id or 0))
    return ids


async def test_sse_filters_by_type_and_issue(store: InMemoryIssueStore) -> None:
    one = await create(store, "Issue one")
    two = await create(store, "Issue two")
    async with (
        serving(app_for(store)) as base,
        sse(
            base, STREAM, after=0, type=["issue.closed", "issue.created"], issue_id=two.id
        ) as stream,
    ):
        await store.update(one.id, _closing())
        await store.update(two.id, _title("A new title"))
        await store.update(two.id, _closing())
        got = await stream.events(2)
    assert [(e.event, e.json()["issue_id"]) for e in got] == [
        ("issue.created", two.id),
        ("issue.closed", two.id),
    ]


def _closing() -> IssueUpdate:
    return IssueUpdate(status=IssueStatus.closed)


def _title(title: str) -> IssueUpdate:
    return IssueUpdate(title=title)


async def test_sse_carries_only_events_of_issues_the_user_may_read(
    store: InMemoryIssueStore,
) -> None:
    app = app_for(store, auth_dependency=header_user, policy=own_issues_only,
                  websocket_user=token_is_username)  # fmt: skip
    async with serving(app) as base:
        async with sse(base, STREAM, headers={"X-User": "ada"}, after=0) as stream:
            await create(store, "Bob's issue", reporter="bob")
            adas = await create(store, "Ada's issue", reporter="ada")
            (seen,) = await stream.events(1)
        async with httpx.AsyncClient(base_url=f"http://{base}") as client:
            anonymous = await client.get(STREAM)
    assert seen.json()["issue_id"] == adas.id
    assert anonymous.status_code == 401


async def test_sse_sends_a_heartbeat_comment_when_quiet(store: InMemoryIssueStore) -> None:
    app = app_for(store, limits=LiveLimits(heartbeat=0.05))
    async with serving(app) as base, sse(base, STREAM) as stream:
        beat = await stream.next(comments=True)
    assert beat is not None
    assert beat.comments == ["ping"]


async def test_sse_overflow_disconnects_with_a_reason_and_resumes_by_id(
    store: InMemoryIssueStore,
) -> None:
    app = app_for(store, limits=LiveLimits(buffer=2))
    async with serving(app) as base:
        async with sse(base, STREAM) as stream:
            await _until_subscribed(1)
            for n in range(5):  # one burst: the hub reads them in one go
                await create(store, f"Issue {n}")
            overflow = await stream.next()
            assert overflow is not None
            assert await stream.next() is None  # the server closed the stream
        await no_hubs_left()
        assert overflow.event == "overflow"
        resume = overflow.json()["last_event_id"]
        async with sse(base, STREAM, headers={"Last-Event-ID": str(resume)}) as again:
            rest = await again.events(5 - resume)
    assert [int(e.id or 0) for e in rest] == list(range(resume + 1, 6))


class _BodyChunks:
    """Keeps the body chunks the app sends on the stream route: each is one trip through
    the ASGI stack and one write to the socket, whatever TCP makes of them."""

    def __init__(self, app: ASGIApp, chunks: list[bytes]) -> None:
        self.app = app
        self.chunks = chunks

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != STREAM:
            await self.app(scope, receive, send)
            return

        async def keep(message: Message) -> None:
            if message["type"] == "http.response.body" and message.get("body"):
                self.chunks.append(message["body"])
            await send(message)

        await self.app(scope, receive, keep)


async def test_sse_sends_a_burst_in_order_in_far_fewer_writes_than_events(
    store: InMemoryIssueStore,
) -> None:
    chunks: list[bytes] = []
    app = app_for(store, limits=LiveLimits(coalesce=1.0))
    app.add_middleware(_BodyChunks, chunks=chunks)
    async with serving(app) as base, sse(base, STREAM) as stream:
        await _until_subscribed(1)
        for n in range(50):
            await create(store, f"Issue {n}")
            await asyncio.sleep(0)  # each write wakes the hub, as separate requests would
        got = await stream.events(50)
    await no_hubs_left()

    assert [int(e.id or 0) for e in got] == list(range(1, 51))
    with_events = [chunk for chunk in chunks if b"\nid: " in chunk]
    # The first event goes out alone (nothing was read for longer than the interval), the
    # rest together a second after it; one more if the hub woke before the second write.
    assert len(with_events) <= 3
    assert sum(chunk.count(b"\nid: ") for chunk in with_events) == 50


async def test_sse_beyond_max_subscribers_is_503_with_retry_after(
    store: InMemoryIssueStore,
) -> None:
    app = app_for(store, limits=LiveLimits(max_subscribers=1, retry_after=7))
    async with (
        serving(app) as base,
        httpx.AsyncClient(base_url=f"http://{base}", timeout=WAIT) as client,
    ):
        async with sse(base, STREAM):
            await _until_subscribed(1)
            refused = await client.get(STREAM)
        await no_hubs_left()
        async with sse(base, STREAM) as later:
            await create(store)
            (event,) = await later.events(1)
    assert refused.status_code == 503
    assert refused.headers["Retry-After"] == "7"
    assert event.event == "issue.created"


# WebSocket


async def test_ws_replays_then_sends_live_events(any_store: TrackerStore) -> None:
    for n in range(3):
        await create(any_store, f"Issue {n}")
    async with (
        serving(app_for(any_store)) as base,
        websocket(base, WS, {"token": "ignored", "after": 1}) as ws,
    ):
        replayed = await receive_json(ws, 2)
        live = await create(any_store, "Issue live")
        (after,) = await receive_json(ws, 1)
    await no_hubs_left()
    assert [e["id"] for e in replayed] == [2, 3]
    assert (after["id"], after["issue"]["id"]) == (4, live.id)


async def test_ws_filters_and_policy(store: InMemoryIssueStore) -> None:
    app = app_for(store, auth_dependency=header_user, policy=own_issues_only,
                  websocket_user=token_is_username)  # fmt: skip
    bobs = await create(store, "Bob's issue", reporter="bob")
    first = {"token": "ada", "after": 0, "types": ["issue.closed"]}
    async with serving(app) as base, websocket(base, WS, first) as ws:
        adas = await create(store, "Ada's issue", reporter="ada")
        await store.update(bobs.id, _closing())
        await store.update(adas.id, _closing())
        (seen,) = await receive_json(ws, 1)
    assert (seen["type"], seen["issue_id"]) == ("issue.closed", adas.id)


@pytest.mark.parametrize(
    ("first", "reason"),
    [
        ("not json", "first message must be JSON"),
        ({"token": "ada", "after": -1}, "first message must be JSON"),
        ({"token": "ada", "types": ["issue.exploded"]}, "first message must be JSON"),
        ({"after": None}, "missing token"),
        ({"token": "bad"}, "invalid token"),
    ],
)
async def test_ws_refuses_a_bad_first_message_or_token_with_1008(
    store: InMemoryIssueStore, first: Any, reason: str
) -> None:
    app = app_for(store, auth_dependency=header_user, websocket_user=token_is_username)
    async with serving(app) as base:
        closed = await _closed_with(base, first)
    assert closed.code == 1008
    assert reason in closed.reason
    assert "bad" not in closed.reason


async def _closed_with(base: str, first: Any) -> Any:
    from websockets.asyncio.client import connect

    async with asyncio.timeout(WAIT), connect(f"ws://{base}{WS}") as ws:
        await ws.send(first if isinstance(first, str) else json.dumps(first))
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None
    return closed.value.rcvd


async def test_ws_with_the_real_auth(store: InMemoryIssueStore) -> None:
    settings = AuthSettings(secret_key=SECRET)
    users = InMemoryUserStore(
        [
            UserInDB(username="ada", hashed_password="x"),  # type: ignore[arg-type]
            UserInDB(username="eve", disabled=True, hashed_password="x"),  # type: ignore[arg-type]
        ]
    )
    app = app_for(
        store,
        auth_dependency=current_active_user(users, settings),
        websocket_user=websocket_user(users, settings),
    )
    good = create_access_token("ada", settings)
    async with serving(app) as base:
        for token in ("forged." + good, create_access_token("eve", settings),
                      create_access_token("nobody", settings)):  # fmt: skip
            closed = await _closed_with(base, {"token": token, "after": None})
            assert (closed.code, closed.reason) == (1008, "invalid token")
            assert token not in closed.reason
        async with websocket(base, WS, {"token": good, "after": 0}) as ws:
            await create(store)
            (event,) = await receive_json(ws, 1)
    assert event["type"] == "issue.created"


async def test_ws_overflow_closes_with_1013_and_resumes_by_id(store: InMemoryIssueStore) -> None:
    app = app_for(store, limits=LiveLimits(buffer=2))
    async with serving(app) as base:
        async with websocket(base, WS, {"token": None, "after": None}) as ws:
            await _until_subscribed(1)
            for n in range(5):
                await create(store, f"Issue {n}")
            with pytest.raises(ConnectionClosed) as closed:
                await _drain(ws)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1013
        assert "reconnect with after=0" in closed.value.rcvd.reason
        async with websocket(base, WS, {"token": None, "after": 0}) as again:
            rest = await receive_json(again, 5)
    assert [e["id"] for e in rest] == [1, 2, 3, 4, 5]


async def _drain(ws: Any) -> None:
    async with asyncio.timeout(WAIT):
        while True:
            await ws.recv()


async def test_ws_beyond_max_subscribers_closes_with_1013(store: InMemoryIssueStore) -> None:
    app = app_for(store, limits=LiveLimits(max_subscribers=1))
    async with serving(app) as base, sse(base, STREAM):
        await _until_subscribed(1)
        closed = await _closed_with(base, {"after": None})
    assert closed.code == 1013
    assert "too many" in closed.reason


async def test_a_store_given_as_a_dependency_serves_every_route(store: InMemoryIssueStore) -> None:
    def get_store() -> InMemoryIssueStore:
        return store

    app = FastAPI()
    app.include_router(make_issue_router(get_store, auth_dependency=header_user))
    app.include_router(
        make_event_router(get_store, auth_dependency=header_user, websocket_user=token_is_username)
    )
    ada = {"X-User": "ada"}
    async with (
        serving(app) as base,
        httpx.AsyncClient(base_url=f"http://{base}", timeout=WAIT) as client,
        sse(base, STREAM, headers=ada, after=0) as stream,
        websocket(base, WS, {"token": "bob", "after": 0}) as ws,
    ):
        created = await client.post(
            "/api/v1/issues", json={"title": "Over HTTP", "description": "By ada"}, headers=ada
        )
        (streamed,) = await stream.events(1)
        (sent,) = await receive_json(ws, 1)
        feed = (await client.get(EVENTS, headers=ada)).json()
    assert streamed.json() == sent == feed[0]
    assert (sent["actor"], sent["issue"]["id"]) == ("ada", created.json()["id"])


async def test_ws_takes_its_own_dependencies_and_can_be_excluded(
    store: InMemoryIssueStore,
) -> None:
    calls: list[str] = []

    async def counted() -> None:
        calls.append("ws")

    app = FastAPI()
    app.include_router(make_event_router(store, dependencies={"ws": [Depends(counted)]}))
    async with serving(app) as base, websocket(base, WS, {"after": 0}) as ws:
        await create(store)
        await receive_json(ws, 1)
    assert calls == ["ws"]
    excluded = FastAPI()
    excluded.include_router(make_event_router(store, exclude=["ws"]))
    with pytest.raises(NoMatchFound):
        excluded.url_path_for("events:ws")
    assert app.url_path_for("events:ws") == WS


class UnreadableLog(InMemoryIssueStore):
    """A store whose event log fails on replay (as a database that went away would)."""

    async def list_events(self, query: EventQuery) -> Sequence[EventOut]:
        if query.after == 0:
            raise StorageError("the database went away")
        return await super().list_events(query)


async def test_a_store_failure_mid_stream_ends_it_with_a_reason() -> None:
    store = UnreadableLog()
    async with serving(app_for(store)) as base:
        async with sse(base, STREAM, after=0) as stream:
            notice = await stream.next(comments=True)
            assert await stream.next() is None
        closed = await _closed_with(base, {"after": 0})
        await no_hubs_left()
    assert notice is not None
    assert notice.comments == ["the event store cannot be read; reconnect"]
    assert (closed.code, closed.reason) == (1011, "the event store cannot be read; reconnect")
