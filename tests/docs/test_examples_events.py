"""The samples of docs/events.md: the app that mounts the event router, and the SSE and
WebSocket clients, run against the example app served by a real uvicorn."""

from __future__ import annotations

import asyncio
import itertools
import queue
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from examples.app import DEMO_PASSWORD, DEMO_USERNAME
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect
from websockets.exceptions import ConnectionClosed

from tests.docs.conftest import LoadExample, add_user
from tests.servers import ExampleAppServer, running

# Bounded waits: a live client that hears nothing must fail the test, not hang it.
WAIT_SECONDS = 10


def _create(api: httpx.Client, title: str) -> str:
    response = api.post("/api/v1/issues", json={"title": title, "description": "From the docs."})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


@pytest.mark.anyio
async def test_events_app_serves_the_timeline_and_the_feed(load_example: LoadExample) -> None:
    module = load_example("events/app.py")
    async with running(module.app) as client:
        created = await client.post(
            "/api/v1/issues", json={"title": "Printer on fire", "description": "Smoke, too."}
        )
        issue_id = created.json()["id"]
        closed = await client.patch(f"/api/v1/issues/{issue_id}", json={"status": "closed"})
        assert closed.status_code == 200
        timeline = await client.get(f"/api/v1/issues/{issue_id}/events")
        assert timeline.status_code == 200
        assert [e["type"] for e in timeline.json()] == ["issue.created", "issue.closed"]
        assert timeline.headers["x-total-count"] == "2"
        feed = await client.get("/api/v1/events", params={"after": 0})
        assert feed.json() == timeline.json()
        closed_only = await client.get("/api/v1/events", params={"type": "issue.closed"})
        assert [e["issue"]["status"] for e in closed_only.json()] == ["closed"]


def test_events_with_auth_sample_checks_tokens_on_every_route(
    load_example: LoadExample, secret_key: str
) -> None:
    add_user("ada", "correct horse battery")
    module = load_example("events/with_auth.py")
    with TestClient(module.app) as client:
        assert client.get("/api/v1/events").status_code == 401
        login = {"username": "ada", "password": "correct horse battery"}
        token = client.post("/token", data=login).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        body = {"title": "Printer on fire", "description": "Smoke, too."}
        issue_id = client.post("/api/v1/issues", json=body, headers=headers).json()["id"]
        feed = client.get("/api/v1/events", headers=headers).json()
        assert [(e["type"], e["actor"]) for e in feed] == [("issue.created", "ada")]
        # The WebSocket: the token in the first message, never in the URL.
        with client.websocket_connect("/api/v1/events/ws") as socket:
            socket.send_json({"token": token, "after": 0})
            assert socket.receive_json()["issue_id"] == issue_id
        with client.websocket_connect("/api/v1/events/ws") as socket:
            socket.send_json({"token": token + "x", "after": 0})
            with pytest.raises(WebSocketDisconnect) as closed:
                socket.receive_json()
        assert closed.value.code == 1008


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ExampleAppServer]:
    """The example app with auth on and the demo user, on a JSON store that outlives a
    restart of the server."""
    env = {"ISSUES_STORAGE_URL": str(tmp_path / "issues.json"), "FASTAPI_ISSUES_DEMO": "on"}
    with ExampleAppServer(tmp_path, env) as running_server:
        yield running_server


def _token(server: ExampleAppServer) -> str:
    return server.login(DEMO_USERNAME, DEMO_PASSWORD)["Authorization"].removeprefix("Bearer ")


@pytest.mark.slow
def test_sse_client_replays_then_resumes_across_a_restart(
    load_example: LoadExample, server: ExampleAppServer
) -> None:
    sse_client = load_example("events/sse_client.py")
    token = _token(server)
    with httpx.Client(
        base_url=server.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    ) as api:
        ids = [_create(api, f"Before {n}") for n in range(3)]
        # Replayed from the log: every event after id 0, in order.
        replayed = list(itertools.islice(sse_client.events(server.base_url, 0, token), 3))
        assert [e["issue_id"] for e in replayed] == ids
        assert [e["type"] for e in replayed] == ["issue.created"] * 3
        first_id = replayed[0]["id"]

        # follow() in a thread; the server dies under it and comes back; it resumes after
        # what it saw.
        seen: queue.Queue[dict[str, Any]] = queue.Queue()

        def consume() -> None:
            for event in itertools.islice(sse_client.follow(server.base_url, token, first_id), 3):
                seen.put(event)

        reader = threading.Thread(target=consume, daemon=True)
        reader.start()
        assert seen.get(timeout=WAIT_SECONDS)["issue_id"] == ids[1]
        assert seen.get(timeout=WAIT_SECONDS)["issue_id"] == ids[2]
        # Killed, not stopped: uvicorn's graceful stop waits for open streams to end, and
        # this one never does (docs/events.md says to cap it with --timeout-graceful-shutdown).
        server.kill()
        server.start()
        later = _create(api, "After the restart")
        event = seen.get(timeout=WAIT_SECONDS)
        assert (event["issue_id"], event["type"]) == (later, "issue.created")
        reader.join(timeout=WAIT_SECONDS)
        assert not reader.is_alive()


@pytest.mark.slow
@pytest.mark.anyio
async def test_ws_client_replays_and_follows(
    load_example: LoadExample, server: ExampleAppServer
) -> None:
    ws_client = load_example("events/ws_client.py")
    token = _token(server)
    url = server.base_url.replace("http://", "ws://") + "/api/v1/events/ws"
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=server.base_url, headers=headers) as api:
        first = await api.post("/api/v1/issues", json={"title": "One", "description": "First one"})
        first_id = first.json()["id"]
        events = ws_client.follow(url, token, after=0)
        async with asyncio.timeout(WAIT_SECONDS):
            replayed = await anext(events)
            assert (replayed["issue_id"], replayed["type"]) == (first_id, "issue.created")
            closed = await api.patch(f"/api/v1/issues/{first_id}", json={"status": "closed"})
            assert closed.status_code == 200
            live = await anext(events)
            assert (live["issue_id"], live["type"]) == (first_id, "issue.closed")
            assert live["id"] > replayed["id"]
        await events.aclose()


@pytest.mark.slow
@pytest.mark.anyio
async def test_ws_client_gives_up_on_a_bad_token(
    load_example: LoadExample, server: ExampleAppServer
) -> None:
    ws_client = load_example("events/ws_client.py")
    url = server.base_url.replace("http://", "ws://") + "/api/v1/events/ws"
    with pytest.raises(ConnectionClosed) as closed:
        async with asyncio.timeout(WAIT_SECONDS):
            await anext(ws_client.follow(url, "not a token"))
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1008
