"""Issue 18's acceptance: the example app, on SQLite and on PostgreSQL, delivers every event
of a scripted sequence to a receiver on 127.0.0.1, each signed correctly and under exactly
one delivery id per event, although the receiver refuses the first two attempts and the app
is killed with `kill -9` (a delivery in flight) and restarted halfway through."""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from tests.servers import ExampleAppServer
from tests.webhooks.receiver import Answer, Received, Receiver

SECRET = "acceptance-secret-0123456789"
HOOKS = "/api/v1/hooks"
ISSUES = "/api/v1/issues"
# Two refused attempts cost the first retry (within 4 s) and the second (within 16 s); the
# restarted app waits for the killed one's lease to lapse (30 s).
DELIVERED_WITHIN = 120.0

pytestmark = [pytest.mark.slow, pytest.mark.anyio]


class RefusingFirstTwo:
    """500 to the first two requests the receiver gets, then 200, each after a short pause
    so that a kill is likely to find a delivery in flight."""

    def __init__(self) -> None:
        self._count = itertools.count(1)
        self._lock = threading.Lock()

    def __call__(self, _: Received) -> Answer:
        with self._lock:
            number = next(self._count)
        if number <= 2:
            return Answer(500, b"not yet")
        return Answer(200, b"thanks", delay=0.2)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def storage_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'issues.db'}"
    return str(request.getfixturevalue("postgres_database"))


def wait_for(check: Callable[[], bool], what: str, timeout: float = DELIVERED_WITHIN) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.1)


def checked(response: httpx.Response) -> httpx.Response:
    assert response.is_success, (response.request.url, response.status_code, response.text)
    return response


def first_half(client: httpx.Client) -> str:
    issue = checked(
        client.post(ISSUES, json={"title": "Deliver me", "description": "to the receiver"})
    )
    issue_id = str(issue.json()["id"])
    checked(client.patch(f"{ISSUES}/{issue_id}", json={"title": "Deliver me, edited"}))
    checked(client.post("/api/v1/labels", json={"name": "bug"}))
    checked(client.post(f"{ISSUES}/{issue_id}/labels", json={"labels": ["bug"]}))
    checked(client.patch(f"{ISSUES}/{issue_id}", json={"assignees": ["johndoe"]}))
    checked(client.post(f"{ISSUES}/{issue_id}/comments", json={"body": "On its way."}))
    return issue_id


def second_half(client: httpx.Client, issue_id: str) -> None:
    checked(client.patch(f"{ISSUES}/{issue_id}", json={"status": "closed"}))
    checked(client.patch(f"{ISSUES}/{issue_id}", json={"status": "open"}))
    checked(client.delete(f"{ISSUES}/{issue_id}"))


def feed(client: httpx.Client) -> list[dict[str, Any]]:
    return list(checked(client.get("/api/v1/events", params={"limit": 100})).json())


async def test_every_event_arrives_signed_once_per_delivery_id_across_a_kill(
    storage_url: str, tmp_path: Path
) -> None:
    # Blocking all through (a server process, a receiver thread): off the event loop.
    await anyio.to_thread.run_sync(lambda: scenario(storage_url, tmp_path))


def scenario(storage_url: str, tmp_path: Path) -> None:
    env = {
        "ISSUES_STORAGE_URL": storage_url,
        "FASTAPI_ISSUES_DEMO": "1",
        "FASTAPI_ISSUES_ADMINS": "johndoe",
        "FASTAPI_ISSUES_WEBHOOKS_ALLOW_PRIVATE": "1",
    }
    server = ExampleAppServer(tmp_path, env)
    plan = RefusingFirstTwo()
    with Receiver(SECRET, plan) as receiver:
        server.start()
        try:
            headers = server.login("johndoe", "secret")
            with httpx.Client(base_url=server.base_url, headers=headers, timeout=30) as client:
                hook = {"url": receiver.url, "secret": SECRET, "events": ["*"]}
                assert client.post(HOOKS, json=hook).status_code == 201
                issue_id = first_half(client)
                # The first events go through once the receiver answers; then a kill, most
                # likely with a delivery in flight (each answer takes 0.2 s).
                wait_for(lambda: len(receiver.snapshot()) >= 4, "the first deliveries")
            server.kill()
            server.start()
            headers = server.login("johndoe", "secret")
            with httpx.Client(base_url=server.base_url, headers=headers, timeout=30) as client:
                second_half(client, issue_id)
                events = feed(client)
                wanted = {event["id"] for event in events}
                wait_for(
                    lambda: wanted <= {json.loads(r.body)["id"] for r in ok(receiver)},
                    "every event delivered",
                )
        finally:
            server.stop()
    types = [event["type"] for event in events]
    assert types == [
        "issue.created",
        "issue.updated",
        "issue.labeled",
        "issue.assigned",
        "comment.created",
        "issue.closed",
        "issue.reopened",
        "issue.deleted",
    ]
    requests = receiver.snapshot()
    assert all(r.signed for r in requests), "every request carries a valid signature"
    delivered = ok(receiver)
    # One delivery id per event, whatever was sent twice across the kill.
    by_delivery = {r.delivery: json.loads(r.body)["id"] for r in delivered}
    assert sorted(by_delivery.values()) == sorted(wanted)
    assert len(set(by_delivery.values())) == len(by_delivery)
    # Each id's body is the feed's event, byte for byte in meaning, and in event order.
    by_id = {event["id"]: event for event in events}
    for r in delivered:
        body = json.loads(r.body)
        assert body == by_id[body["id"]]
        assert r.event == body["type"]
    first_arrivals = list(dict.fromkeys(json.loads(r.body)["id"] for r in delivered))
    assert first_arrivals == sorted(first_arrivals), "per hook, in event order"
    refused = [r for r in requests if r not in delivered]
    assert len(refused) == 2
    assert refused[0].delivery == refused[1].delivery == requests[2].delivery, (
        "the refused delivery is retried under its own id"
    )


def ok(receiver: Receiver) -> list[Received]:
    """The requests answered 200: all but the first two."""
    return receiver.snapshot()[2:]
