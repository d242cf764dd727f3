"""The webhook routes: hooks, pings, deliveries and redelivery, their 404s and 422s, pages,
and a secret that no answer ever shows (the client of `hooks_app` fails a test that does)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from fastapi_issues import InMemoryIssueStore, webhooks
from fastapi_issues.routers import hooks as hooks_module
from fastapi_issues.storage.deliveries import AttemptResult
from tests.heads import assert_head_like_get
from tests.routers.hooks_app import (
    HOOKS,
    ISSUES,
    PUBLIC_URL,
    ROOT,
    SECRET,
    client_for,
    hook_body,
    make_app,
    new_hook,
)

pytestmark = pytest.mark.anyio

SHOWN = {"id", "url", "events", "active", "created_at", "updated_at", "failing_since"}


async def test_create_answers_201_with_location_and_never_the_secret() -> None:
    async with client_for(make_app()) as client:
        body = hook_body(events=["issue.created", "issue.closed"])
        created = await client.post(HOOKS, json=body, headers=ROOT)
        assert created.status_code == 201, created.text
        hook = created.json()
        assert set(hook) == SHOWN
        assert hook["url"] == PUBLIC_URL
        assert hook["events"] == ["issue.created", "issue.closed"]
        assert hook["active"] is True
        assert hook["failing_since"] is None
        assert created.headers["Location"] == f"http://test{HOOKS}/{hook['id']}"
        fetched = await client.get(created.headers["Location"], headers=ROOT)
        assert fetched.json() == hook
        listed = await client.get(HOOKS, headers=ROOT)
        assert listed.json() == [hook]
        assert "secret" not in fetched.text + listed.text


async def test_a_hook_created_here_gets_the_events_made_after() -> None:
    store = InMemoryIssueStore()
    async with client_for(make_app(store)) as client:
        before = {"title": "Before the hook", "description": "not delivered"}
        assert (await client.post(ISSUES, json=before)).status_code == 201
        hook = await new_hook(client, events=["issue.created"])
        after = {"title": "After the hook", "description": "delivered"}
        issue = (await client.post(ISSUES, json=after)).json()
        assert await store.hooks.enqueue_deliveries() == 1
        [delivery] = (await client.get(f"{HOOKS}/{hook['id']}/deliveries", headers=ROOT)).json()
        assert delivery["event"] == "issue.created"
        assert delivery["state"] == "pending"
        [due] = await store.hooks.due_deliveries()
        assert due.secret == SECRET
        assert f'"id":"{issue["id"]}"' in due.body.decode()


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://8.8.8.8/", "must start with http:// or https://"),
        ("https://user:pw@8.8.8.8/", "must not hold a user name or password"),
        ("http://127.0.0.1:8000/hook", "loopback"),
        ("http://localhost/hook", "loopback"),
        ("http://10.1.2.3/hook", "private"),
        ("http://192.168.0.10/hook", "private"),
        ("http://169.254.169.254/latest/meta-data", "link-local"),
        ("http://[::1]/hook", "loopback"),
        ("http://[::ffff:127.0.0.1]/hook", "loopback"),
        ("http://0.0.0.0/hook", "resolves to 0.0.0.0"),
        ("http://224.0.0.1/hook", "multicast"),
        ("http://100.100.100.200/", "metadata"),
        ("https://no-such-host.invalid/hook", "does not resolve"),
        # Names IDNA cannot encode (a label over 63 characters, an empty one) were a 500.
        ("https://" + "0" * 64 + "/hook", "is not a valid host name"),
        ("https://a..b/hook", "is not a valid host name"),
    ],
)
async def test_a_url_hooks_may_not_call_is_a_422_with_the_reason(url: str, reason: str) -> None:
    store = InMemoryIssueStore()
    async with client_for(make_app(store)) as client:
        refused = await client.post(HOOKS, json=hook_body(url=url), headers=ROOT)
        assert refused.status_code == 422, refused.text
        [error] = refused.json()["detail"]
        assert error["loc"] == ["body", "url"]
        assert reason in error["msg"]
    assert (await store.hooks.list_hooks()).total == 0


async def test_allow_private_targets_lets_intranet_urls_in() -> None:
    async with client_for(make_app(allow_private_targets=True)) as client:
        hook = await new_hook(client, url="http://127.0.0.1:8000/hook")
        assert hook["url"] == "http://127.0.0.1:8000/hook"
        # Only the address policy is lifted: a name that does not resolve is still refused.
        nowhere = hook_body(url="https://no-such-host.invalid/")
        assert (await client.post(HOOKS, json=nowhere, headers=ROOT)).status_code == 422


async def test_a_url_that_does_not_resolve_in_time_is_a_422(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def slow(url: str, *, allow_private: bool = False) -> None:
        await asyncio.sleep(10)

    monkeypatch.setattr(webhooks, "check_target", slow)
    monkeypatch.setattr(hooks_module, "RESOLVE_TIMEOUT", 0.05)
    async with client_for(make_app()) as client:
        refused = await client.post(HOOKS, json=hook_body(), headers=ROOT)
    assert refused.status_code == 422
    assert "did not resolve within 0.05 s" in refused.json()["detail"][0]["msg"]


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"url": PUBLIC_URL, "secret": SECRET[:10]}, id="short-secret"),
        pytest.param({"url": PUBLIC_URL, "secret": [SECRET]}, id="secret-not-a-string"),
        pytest.param([hook_body()], id="body-a-list"),
        pytest.param(hook_body(events=["issue.created", "nope"]), id="unknown-event"),
        pytest.param(hook_body(events=["*", "issue.created"]), id="star-and-more"),
        pytest.param(hook_body(events=[]), id="no-events"),
        pytest.param(hook_body(url="not a url"), id="not-a-url"),
        pytest.param({"url": PUBLIC_URL}, id="no-secret"),
        # The schema says boolean: 0 and "true" are not read as one.
        pytest.param(hook_body(active=0), id="active-zero"),
        pytest.param(hook_body(active="true"), id="active-a-string"),
    ],
)
async def test_bad_input_is_a_422_that_never_echoes_the_secret(body: Any) -> None:
    async with client_for(make_app()) as client:
        refused = await client.post(HOOKS, json=body, headers=ROOT)
        assert refused.status_code == 422, refused.text
        assert SECRET[:10] not in refused.text


async def test_a_patch_never_echoes_the_secret_either() -> None:
    async with client_for(make_app()) as client:
        url = f"{HOOKS}/{(await new_hook(client))['id']}"
        for body in ({"secret": SECRET[:10]}, {"Secret": SECRET}, {"secret": None}):
            refused = await client.patch(url, json=body, headers=ROOT)
            assert refused.status_code == 422, refused.text
            assert SECRET[:10] not in refused.text


async def test_a_patch_of_active_takes_a_boolean_only() -> None:
    async with client_for(make_app()) as client:
        url = f"{HOOKS}/{(await new_hook(client))['id']}"
        for active in (0, "false", None):
            refused = await client.patch(url, json={"active": active}, headers=ROOT)
            assert refused.status_code == 422, refused.text
        assert (await client.get(url, headers=ROOT)).json()["active"] is True
        paused = await client.patch(url, json={"active": False}, headers=ROOT)
        assert paused.json()["active"] is False


async def test_update_changes_what_is_sent_and_checks_a_new_url() -> None:
    store = InMemoryIssueStore()
    async with client_for(make_app(store)) as client:
        hook = await new_hook(client)
        url = f"{HOOKS}/{hook['id']}"
        changed = await client.patch(url, json={"events": ["comment.created"]}, headers=ROOT)
        assert changed.status_code == 200
        assert changed.json()["events"] == ["comment.created"]
        assert changed.json()["url"] == PUBLIC_URL
        private = await client.patch(url, json={"url": "http://10.0.0.1/"}, headers=ROOT)
        assert private.status_code == 422
        assert "private" in private.json()["detail"][0]["msg"]
        assert (await client.get(url, headers=ROOT)).json()["url"] == PUBLIC_URL
        moved = await client.patch(url, json={"url": "https://1.1.1.1/in"}, headers=ROOT)
        assert moved.json()["url"] == "https://1.1.1.1/in"


async def test_a_new_secret_signs_later_deliveries_and_is_not_shown() -> None:
    store = InMemoryIssueStore()
    new_secret = "another-secret-abcdefghij"
    async with client_for(make_app(store)) as client:
        hook = await new_hook(client)
        url = f"{HOOKS}/{hook['id']}"
        changed = await client.patch(url, json={"secret": new_secret}, headers=ROOT)
        assert changed.status_code == 200
        assert new_secret not in changed.text
        assert (await client.post(url + "/pings", headers=ROOT)).status_code == 202
    [due] = await store.hooks.due_deliveries()
    assert due.secret == new_secret


async def test_unknown_hooks_and_deliveries_are_404() -> None:
    async with client_for(make_app()) as client:
        hook = await new_hook(client)
        other = await new_hook(client)
        ping = (await client.post(f"{HOOKS}/{other['id']}/pings", headers=ROOT)).json()
        missing = f"{HOOKS}/no-such-hook"
        for method, url, body in [
            ("GET", missing, None),
            ("PATCH", missing, {"active": False}),
            # 404 before the URL is looked at: no 422 for a hook that is not there.
            ("PATCH", missing, {"url": "http://127.0.0.1/"}),
            ("DELETE", missing, None),
            ("POST", missing + "/pings", None),
            ("GET", missing + "/deliveries", None),
            ("GET", f"{missing}/deliveries/{ping['id']}", None),
            ("POST", f"{missing}/deliveries/{ping['id']}/attempts", None),
        ]:
            answer = await client.request(method, url, json=body, headers=ROOT)
            assert answer.status_code == 404, (method, url, answer.text)
            assert answer.json() == {"detail": "Hook not found"}
        # A delivery of another hook is not this hook's.
        for method, url in [
            ("GET", f"{HOOKS}/{hook['id']}/deliveries/{ping['id']}"),
            ("POST", f"{HOOKS}/{hook['id']}/deliveries/{ping['id']}/attempts"),
            ("GET", f"{HOOKS}/{hook['id']}/deliveries/no-such-delivery"),
        ]:
            answer = await client.request(method, url, headers=ROOT)
            assert answer.status_code == 404, (method, url)
            assert answer.json() == {"detail": "Delivery not found"}


async def test_delete_removes_the_hook_and_its_deliveries() -> None:
    store = InMemoryIssueStore()
    async with client_for(make_app(store)) as client:
        url = f"{HOOKS}/{(await new_hook(client))['id']}"
        assert (await client.post(url + "/pings", headers=ROOT)).status_code == 202
        deleted = await client.delete(url, headers=ROOT)
        assert deleted.status_code == 204
        assert deleted.content == b""
        assert (await client.get(url, headers=ROOT)).status_code == 404
        assert (await client.delete(url, headers=ROOT)).status_code == 404
    assert await store.hooks.due_deliveries() == []


async def test_a_ping_is_queued_and_shown_among_the_deliveries() -> None:
    async with client_for(make_app()) as client:
        hook = await new_hook(client, active=False)
        url = f"{HOOKS}/{hook['id']}"
        ping = await client.post(url + "/pings", headers=ROOT)
        assert ping.status_code == 202
        delivery = ping.json()
        assert delivery["event"] == "ping"
        assert delivery["event_id"] is None
        assert delivery["state"] == "pending"
        assert delivery["attempts"] == 0
        assert delivery["hook_id"] == hook["id"]
        assert ping.headers["Location"] == f"http://test{url}/deliveries/{delivery['id']}"
        assert (await client.get(ping.headers["Location"], headers=ROOT)).json() == delivery
        assert (await client.get(url + "/deliveries", headers=ROOT)).json() == [delivery]


async def test_redelivery_makes_a_finished_delivery_pending_with_the_same_id() -> None:
    store = InMemoryIssueStore()
    async with client_for(make_app(store)) as client:
        url = f"{HOOKS}/{(await new_hook(client))['id']}"
        ping = (await client.post(url + "/pings", headers=ROOT)).json()
        at = datetime.now(UTC)
        result = AttemptResult(at=at, ok=False, status_code=500, duration_ms=3.0, response="no")
        await store.hooks.record_attempt(ping["id"], result)
        failed = (await client.get(f"{url}/deliveries/{ping['id']}", headers=ROOT)).json()
        assert failed["state"] == "failed"
        again = await client.post(f"{url}/deliveries/{ping['id']}/attempts", headers=ROOT)
        assert again.status_code == 202
        assert again.json()["id"] == ping["id"]
        assert again.json()["state"] == "pending"
        assert again.json()["attempts"] == 1
        assert again.json()["status_code"] == 500
        assert again.headers["Location"].endswith(f"/deliveries/{ping['id']}")
    [due] = await store.hooks.due_deliveries()
    assert due.id == ping["id"]


async def test_hooks_and_deliveries_are_paginated() -> None:
    async with client_for(make_app()) as client:
        made = [await new_hook(client, url=f"https://8.8.8.8/{n}") for n in range(3)]
        first = await assert_head_like_get(client, f"{HOOKS}?limit=2", headers=ROOT)
        assert first.json() == made[:2]
        assert first.headers["X-Total-Count"] == "3"
        assert f'<http://test{HOOKS}?limit=2&page=2>; rel="next"' in first.headers["Link"]
        second = await client.get(f"{HOOKS}?limit=2&page=2", headers=ROOT)
        assert second.json() == made[2:]
        assert 'rel="next"' not in second.headers["Link"]

        hook_url = f"{HOOKS}/{made[0]['id']}"
        pings = [(await client.post(hook_url + "/pings", headers=ROOT)).json() for _ in range(3)]
        url = hook_url + "/deliveries"
        page = await assert_head_like_get(client, url + "?limit=2", headers=ROOT)
        assert [d["id"] for d in page.json()] == [pings[2]["id"], pings[1]["id"]]  # newest first
        assert page.headers["X-Total-Count"] == "3"
        last = await client.get(url + "?limit=2&page=2", headers=ROOT)
        assert [d["id"] for d in last.json()] == [pings[0]["id"]]
        for bad in ("?limit=0", "?limit=101", "?page=0"):
            assert (await client.get(HOOKS + bad, headers=ROOT)).status_code == 422
            assert (await client.get(url + bad, headers=ROOT)).status_code == 422


async def test_other_methods_get_405_with_allow() -> None:
    async with client_for(make_app()) as client:
        url = f"{HOOKS}/{(await new_hook(client))['id']}"
        for method, path, allow in [
            ("PUT", url, "GET, HEAD, PATCH, DELETE"),
            ("DELETE", HOOKS, "GET, HEAD, POST"),
            ("GET", url + "/pings", "POST"),
        ]:
            answer = await client.request(method, path, headers=ROOT)
            assert answer.status_code == 405, (method, path)
            assert answer.headers["Allow"] == allow


def test_operation_ids_read_as_verbs_on_hooks() -> None:
    paths = make_app().openapi()["paths"]
    ids = {
        op["operationId"] for path, ops in paths.items() if "hooks" in path for op in ops.values()
    }
    assert ids == {
        "list_hooks",
        "create_hook",
        "get_hook",
        "update_hook",
        "delete_hook",
        "ping_hook",
        "list_hook_deliveries",
        "get_hook_delivery",
        "redeliver_hook_delivery",
    }
    schema = make_app().openapi()["components"]["schemas"]["HookOut"]
    assert "secret" not in schema["properties"]
