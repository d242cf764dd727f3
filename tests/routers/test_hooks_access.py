"""Who may use the webhook router: admins yes, other users 403, anonymous 401, on every
route; and a router that cannot be built open by mistake."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from fastapi_issues import InMemoryIssueStore, make_webhook_router
from fastapi_issues.routers.policies import AdminsOnly
from tests.routers.hooks_app import (
    BOB,
    BOSS,
    HOOKS,
    ROOT,
    client_for,
    hook_body,
    make_app,
    new_hook,
)

pytestmark = pytest.mark.anyio

# Every route: method, path (with {hook} and {delivery}), body, the admin's status.
ROUTES = [
    ("GET", HOOKS, None, 200),
    ("POST", HOOKS, hook_body(), 201),
    ("GET", HOOKS + "/{hook}", None, 200),
    ("PATCH", HOOKS + "/{hook}", {"active": False}, 200),
    ("POST", HOOKS + "/{hook}/pings", None, 202),
    ("GET", HOOKS + "/{hook}/deliveries", None, 200),
    ("GET", HOOKS + "/{hook}/deliveries/{delivery}", None, 200),
    ("POST", HOOKS + "/{hook}/deliveries/{delivery}/attempts", None, 202),
    ("DELETE", HOOKS + "/{hook}", None, 204),
]
ROUTE_IDS = [f"{method} {path}" for method, path, _, _ in ROUTES]


async def a_hook_with_a_delivery(client: httpx.AsyncClient) -> tuple[str, str]:
    hook = await new_hook(client)
    ping = await client.post(f"{HOOKS}/{hook['id']}/pings", headers=ROOT)
    assert ping.status_code == 202, ping.text
    return hook["id"], ping.json()["id"]


async def call(
    client: httpx.AsyncClient,
    route: tuple[str, str, Any, int],
    ids: tuple[str, str],
    headers: dict[str, str],
) -> httpx.Response:
    method, path, body, _ = route
    url = path.format(hook=ids[0], delivery=ids[1])
    return await client.request(method, url, json=body, headers=headers)


@pytest.mark.parametrize("route", ROUTES, ids=ROUTE_IDS)
@pytest.mark.parametrize(
    ("who", "expected"),
    [
        pytest.param(ROOT, None, id="admin-by-name"),
        pytest.param(BOSS, None, id="admin-by-flag"),
        pytest.param(BOB, 403, id="other-user"),
        pytest.param({}, 401, id="anonymous"),
    ],
)
async def test_who_may_use_each_route(
    route: tuple[str, str, Any, int], who: dict[str, str], expected: int | None
) -> None:
    store = InMemoryIssueStore()
    async with client_for(make_app(store)) as client:
        ids = await a_hook_with_a_delivery(client)
        hook_before = await store.hooks.get_hook(ids[0])
        before = await store.hooks.list_deliveries(ids[0])
        answer = await call(client, route, ids, who)
        assert answer.status_code == (expected or route[3]), answer.text
        if expected is None:
            return
        # Refused: nothing changed.
        assert (await store.hooks.list_hooks()).total == 1
        assert await store.hooks.get_hook(ids[0]) == hook_before
        assert await store.hooks.list_deliveries(ids[0]) == before
        if expected == 401:
            assert answer.headers["WWW-Authenticate"] == "Bearer"


async def test_a_refused_user_learns_nothing_from_the_body_or_the_id() -> None:
    async with client_for(make_app()) as client:
        # The policy is asked before the body is validated and before the store is read.
        bad = {"url": "ftp://nowhere", "secret": "short"}
        assert (await client.post(HOOKS, json=bad, headers=BOB)).status_code == 403
        assert (await client.post(HOOKS, json=bad)).status_code == 401
        assert (await client.get(HOOKS + "/no-such-hook", headers=BOB)).status_code == 403
        patch = {"url": "http://127.0.0.1/"}
        assert (await client.patch(HOOKS + "/no-such", json=patch, headers=BOB)).status_code == 403


async def test_without_a_policy_only_users_flagged_admin_may() -> None:
    app = make_app(policy=None)
    async with client_for(app) as client:
        assert (await client.post(HOOKS, json=hook_body(), headers=BOSS)).status_code == 201
        # "root" is an admin by name only for AdminsOnly(["root"]); the default knows no names.
        assert (await client.get(HOOKS, headers=ROOT)).status_code == 403
        assert (await client.get(HOOKS, headers=BOB)).status_code == 403


def test_a_router_without_auth_needs_an_explicit_policy() -> None:
    store = InMemoryIssueStore()
    with pytest.raises(ValueError, match="needs an auth_dependency"):
        make_webhook_router(store.hooks)


async def test_without_auth_the_explicit_policy_decides() -> None:
    asked: list[tuple[Any, str]] = []

    async def intranet(user: Any, action: str) -> bool:
        asked.append((user, action))
        return action != "delete"

    app = make_app(auth_dependency=None, policy=intranet)
    async with client_for(app) as client:
        created = await client.post(HOOKS, json=hook_body())
        assert created.status_code == 201
        url = created.headers["Location"]
        assert (await client.post(url + "/pings")).status_code == 202
        assert (await client.get(url + "/deliveries")).status_code == 200
        assert (await client.delete(url)).status_code == 403
    assert asked == [(None, "create"), (None, "ping"), (None, "read"), (None, "delete")]


async def test_each_route_asks_the_policy_about_its_action() -> None:
    asked: list[str] = []

    def record(user: Any, action: str) -> bool:
        asked.append(action)
        return True

    async with client_for(make_app(policy=record)) as client:
        ids = await a_hook_with_a_delivery(client)
        asked.clear()
        for route in ROUTES:
            assert (await call(client, route, ids, BOB)).status_code == route[3]
    assert asked == [
        "read",
        "create",
        "read",
        "update",
        "ping",
        "read",
        "read",
        "redeliver",
        "delete",
    ]


def test_admins_only_is_a_hook_policy() -> None:
    policy = AdminsOnly(["root"])
    assert policy("root", "create")
    assert policy({"username": "root"}, "redeliver")
    assert not policy("bob", "read")
    assert not policy(None, "read")


def test_openapi_documents_401_and_403_on_every_route() -> None:
    paths = make_app().openapi()["paths"]
    seen = 0
    for path, operations in paths.items():
        if not path.startswith(HOOKS):
            continue
        for method, operation in operations.items():
            assert {"401", "403", "503"} <= set(operation["responses"]), (method, path)
            seen += 1
    assert seen == len(ROUTES)
