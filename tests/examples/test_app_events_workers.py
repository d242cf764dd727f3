"""Issue 17's acceptance: the example app under `uvicorn --workers 2`, on SQLite and on
PostgreSQL, with auth on. An SSE client and a WebSocket client receive, in order and
within a second of each write, every event of a scripted sequence made through the API
(whichever worker takes each request); a reconnect with `Last-Event-ID` replays exactly
what it missed; the issue's timeline lists the same events."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from websockets.sync.client import connect

from tests.servers import free_port, wait_until_up

ROOT = Path(__file__).resolve().parents[2]
STREAM = "/api/v1/events/stream"
ISSUE_EVENTS = [
    "issue.created",
    "issue.updated",
    "issue.labeled",
    "issue.assigned",
    "comment.created",
    "issue.closed",
    "issue.reopened",
    "issue.deleted",
]
LIVE_WITHIN = 1.0


pytestmark = pytest.mark.anyio


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'issues.db'}"
    return str(request.getfixturevalue("postgres_database"))


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "ISSUES_STORAGE_URL": database_url,
        "FASTAPI_ISSUES_DEMO": "1",
        "FASTAPI_ISSUES_ADMINS": "johndoe",
        "FASTAPI_ISSUES_SECRET_KEY": "k" * 64,
        "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}",
    }
    log = tmp_path / "server.log"
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [
                sys.executable, "-m", "uvicorn", "examples.app:app", "--host", "127.0.0.1",
                "--port", str(port), "--workers", "2", "--log-level", "warning",
            ],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{base}/health", process, log=log)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


def _token(base: str) -> str:
    reply = httpx.post(f"{base}/token", data={"username": "johndoe", "password": "secret"})
    reply.raise_for_status()
    return str(reply.json()["access_token"])


class Listener:
    """Collects events from a stream in a thread, with when each arrived."""

    def __init__(self, read: Callable[[Callable[[dict[str, Any]], None]], None]) -> None:
        self.events: queue.Queue[tuple[float, dict[str, Any]]] = queue.Queue()
        self._thread = threading.Thread(target=read, args=(self._got,), daemon=True)
        self._thread.start()

    def _got(self, event: dict[str, Any]) -> None:
        self.events.put((time.monotonic(), event))

    def next(self, timeout: float) -> tuple[float, dict[str, Any]]:
        return self.events.get(timeout=timeout)


def _read_sse(
    base: str, token: str, headers: dict[str, str], stop: threading.Event
) -> Callable[[Callable[[dict[str, Any]], None]], None]:
    def read(got: Callable[[dict[str, Any]], None]) -> None:
        auth = {"Authorization": f"Bearer {token}", **headers}
        with httpx.stream("GET", base + STREAM, headers=auth, timeout=None) as reply:
            assert reply.status_code == 200
            assert reply.headers["x-accel-buffering"] == "no"
            fields: dict[str, str] = {}
            for line in reply.iter_lines():
                if stop.is_set():
                    return
                if not line:
                    if "data" in fields:
                        event = json.loads(fields["data"])
                        assert fields["id"] == str(event["id"])
                        assert fields["event"] == event["type"]
                        got(event)
                    fields = {}
                elif not line.startswith(":"):
                    name, _, value = line.partition(":")
                    fields[name] = value.removeprefix(" ")

    return read


def _read_ws(base: str, token: str, stop: threading.Event) -> Callable[[Any], None]:
    def read(got: Callable[[dict[str, Any]], None]) -> None:
        with connect(base.replace("http", "ws", 1) + "/api/v1/events/ws") as ws:
            ws.send(json.dumps({"token": token, "after": None}))
            while not stop.is_set():
                try:
                    got(json.loads(ws.recv(timeout=0.2)))
                except TimeoutError:
                    continue

    return read


def _check_timeline(base: str, token: str, events: list[dict[str, Any]]) -> None:
    """The issue's timeline lists the events the streams delivered, oldest first."""
    issue_id = events[0]["issue_id"]
    headers = {"Authorization": f"Bearer {token}"}
    timeline = httpx.get(f"{base}/api/v1/issues/{issue_id}/events", headers=headers)
    assert timeline.status_code == 200, timeline.text
    assert timeline.headers["x-total-count"] == str(len(events))
    assert timeline.json() == events


def _script(base: str, token: str) -> Iterator[tuple[str, float]]:
    """The scripted writes; yields each write's name and when it was acknowledged."""
    client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"})
    with client:
        label = client.post("/api/v1/labels", json={"name": "bug", "color": "d73a4a"})
        assert label.status_code == 201, label.text
        created = client.post(
            "/api/v1/issues", json={"title": "Crash", "description": "Boom on start"}
        )
        assert created.status_code == 201, created.text
        yield "create", time.monotonic()
        path = f"/api/v1/issues/{created.json()['id']}"
        steps: list[tuple[str, str, str, Any]] = [
            ("edit", "PATCH", path, {"title": "Crash on start"}),
            ("label", "POST", path + "/labels", {"labels": ["bug"]}),
            ("assign", "PATCH", path, {"assignees": ["johndoe"]}),
            ("comment", "POST", path + "/comments", {"body": "Seen it too"}),
            ("close", "PATCH", path, {"status": "closed"}),
            ("reopen", "PATCH", path, {"status": "open"}),
            ("delete", "DELETE", path, None),
        ]
        for name, method, url, body in steps:
            reply = client.request(method, url, json=body)
            assert reply.is_success, (name, reply.status_code, reply.text)
            yield name, time.monotonic()


@pytest.mark.slow
async def test_sse_and_websocket_follow_a_scripted_sequence_across_two_workers(
    server: str,
) -> None:
    await anyio.to_thread.run_sync(_follow_the_script, server)


def _follow_the_script(server: str) -> None:
    token = _token(server)
    stop = threading.Event()
    sse = Listener(_read_sse(server, token, {}, stop))
    ws = Listener(_read_ws(server, token, stop))
    time.sleep(1)  # both subscribed (on whichever workers took them)
    try:
        seen: dict[str, list[dict[str, Any]]] = {"sse": [], "ws": []}
        for (step, acknowledged), wanted in zip(_script(server, token), ISSUE_EVENTS, strict=True):
            for name, listener in (("sse", sse), ("ws", ws)):
                arrived, event = listener.next(timeout=5)
                assert event["type"] == wanted, (name, step, event)
                assert arrived - acknowledged < LIVE_WITHIN, (name, step, arrived - acknowledged)
                seen[name].append(event)
            if step == "reopen":
                _check_timeline(server, token, seen["sse"])
        assert seen["sse"] == seen["ws"]
        ids = [event["id"] for event in seen["sse"]]
        assert ids == sorted(ids)
    finally:
        stop.set()

    # A reconnect from the third event replays exactly the five after it.
    replay_stop = threading.Event()
    resumed = Listener(_read_sse(server, token, {"Last-Event-ID": str(ids[2])}, replay_stop))
    try:
        replayed = [resumed.next(timeout=5)[1] for _ in ids[3:]]
        assert replayed == seen["sse"][3:]
        with pytest.raises(queue.Empty):
            resumed.next(timeout=0.5)
    finally:
        replay_stop.set()

    # Once deleted, the timeline is 404, as the issue is; the feed still has every event.
    issue_id = seen["sse"][0]["issue_id"]
    headers = {"Authorization": f"Bearer {token}"}
    timeline = httpx.get(f"{server}/api/v1/issues/{issue_id}/events", headers=headers)
    assert timeline.status_code == 404
    feed = httpx.get(
        f"{server}/api/v1/events",
        params={"issue_id": issue_id, "after": ids[0] - 1},
        headers=headers,
    )
    assert feed.status_code == 200
    assert feed.json() == seen["sse"]
