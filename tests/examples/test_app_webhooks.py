"""The example app's webhooks: mounted for admins when auth is on, addresses checked unless
`FASTAPI_ISSUES_WEBHOOKS_ALLOW_PRIVATE` is on, and delivered by the worker in the lifespan to
a real receiver on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from examples.app import create_app

from tests.servers import running
from tests.webhooks.receiver import Receiver

pytestmark = pytest.mark.anyio

HOOKS = "/api/v1/hooks"
SECRET = "example-app-hook-secret-0123456789"
PASSWORD = "a long passphrase"


def env_for(tmp_path: Path, **env: str) -> dict[str, str]:
    return {
        "ISSUES_STORAGE_URL": str(tmp_path / "data" / "issues.json"),
        "FASTAPI_ISSUES_REGISTRATION": "on",
        "FASTAPI_ISSUES_ADMINS": "ada",
        **env,
    }


async def signed_in(client: httpx.AsyncClient, username: str) -> dict[str, str]:
    body = {"username": username, "password": PASSWORD}
    assert (await client.post("/register", json=body)).status_code == 201
    token = await client.post("/token", data=body)
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


async def test_only_admins_named_in_the_settings_may_register_hooks(tmp_path: Path) -> None:
    async with running(create_app(env_for(tmp_path))) as client:
        ada = await signed_in(client, "ada")
        bob = await signed_in(client, "bob")
        body = {"url": "https://8.8.8.8/hook", "secret": SECRET}
        assert (await client.post(HOOKS, json=body)).status_code == 401
        assert (await client.post(HOOKS, json=body, headers=bob)).status_code == 403
        assert (await client.get(HOOKS, headers=bob)).status_code == 403
        created = await client.post(HOOKS, json=body, headers=ada)
        assert created.status_code == 201, created.text
        assert SECRET not in created.text
        # Off by default: a hook may not call the server's own network.
        private = {"url": "http://127.0.0.1:8000/hook", "secret": SECRET}
        refused = await client.post(HOOKS, json=private, headers=ada)
        assert refused.status_code == 422
        assert "loopback" in refused.text


async def test_with_auth_off_there_is_no_webhook_route(tmp_path: Path) -> None:
    app = create_app(env_for(tmp_path, FASTAPI_ISSUES_AUTH="off"))
    assert not [path for path in app.openapi()["paths"] if path.startswith(HOOKS)]
    async with running(app) as client:
        body = {"url": "https://8.8.8.8/hook", "secret": SECRET}
        assert (await client.post(HOOKS, json=body)).status_code == 404


async def test_the_lifespan_worker_delivers_signed_events_to_a_local_receiver(
    tmp_path: Path,
) -> None:
    env = env_for(tmp_path, FASTAPI_ISSUES_WEBHOOKS_ALLOW_PRIVATE="1")
    with Receiver(SECRET) as receiver:
        async with running(create_app(env)) as client:
            ada = await signed_in(client, "ada")
            body = {"url": receiver.url, "secret": SECRET, "events": ["issue.created"]}
            hook = (await client.post(HOOKS, json=body, headers=ada)).json()
            issue = {"title": "Delivered", "description": "to the receiver"}
            created = await client.post("/api/v1/issues", json=issue, headers=ada)
            ping = await client.post(f"{HOOKS}/{hook['id']}/pings", headers=ada)
            assert ping.status_code == 202
            listed = f"{HOOKS}/{hook['id']}/deliveries"
            deliveries: list[dict[str, Any]] = []
            for _ in range(200):  # the worker records an attempt once it is answered
                deliveries = (await client.get(listed, headers=ada)).json()
                if [d["state"] for d in deliveries] == ["delivered"] * 2:
                    break
                await asyncio.sleep(0.05)
    got = {r.event: r for r in receiver.snapshot()}
    assert set(got) == {"ping", "issue.created"}
    assert all(r.signed and r.hook_id == hook["id"] for r in got.values())
    event = json.loads(got["issue.created"].body)
    assert event["type"] == "issue.created"
    assert event["issue"]["id"] == created.json()["id"]
    assert got["ping"].delivery == ping.json()["id"]
    assert [d["state"] for d in deliveries] == ["delivered"] * 2
    assert len(receiver.snapshot()) == 2, "each delivered once"
