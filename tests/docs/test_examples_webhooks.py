"""The samples of docs/webhooks.md: the app mounting the webhook router with its worker, and
the receiver, which must take a real delivery and refuse a forged one."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from fastapi_issues import InMemoryIssueStore, IssueCreate
from fastapi_issues.schemas import HookCreate
from fastapi_issues.webhooks import DeliveryWorker, sign
from tests.docs.conftest import LoadExample, add_user

SECRET = "receiver-docs-secret-0123456789abcdef"
RECEIVER = "http://receiver.test/hooks/issues"


def test_webhooks_app_lets_admins_only_register_hooks(
    load_example: LoadExample, secret_key: str
) -> None:
    add_user("ada", "correct horse battery")
    add_user("bob", "correct horse battery")
    module = load_example("webhooks/app.py")
    with TestClient(module.app) as client:
        body = {"url": "https://8.8.8.8/in", "secret": SECRET, "events": ["issue.closed"]}
        assert client.post("/api/v1/hooks", json=body).status_code == 401

        def bearer(name: str) -> dict[str, str]:
            login = {"username": name, "password": "correct horse battery"}
            token = client.post("/token", data=login).json()["access_token"]
            return {"Authorization": f"Bearer {token}"}

        assert client.post("/api/v1/hooks", json=body, headers=bearer("bob")).status_code == 403
        created = client.post("/api/v1/hooks", json=body, headers=bearer("ada"))
        assert created.status_code == 201
        assert SECRET not in created.text


@pytest.fixture
def receiver(load_example: LoadExample, monkeypatch: pytest.MonkeyPatch) -> TestClient:
    monkeypatch.setenv("ISSUES_WEBHOOK_SECRET", SECRET)
    module = load_example("webhooks/receiver.py")
    client = TestClient(module.app)
    client.handled = module.handled  # type: ignore[attr-defined]
    return client


def deliver(client: TestClient, body: bytes, signature: str, delivery: str) -> int:
    headers = {
        "Content-Type": "application/json",
        "X-Issues-Event": "issue.created",
        "X-Issues-Delivery": delivery,
        "X-Issues-Signature-256": signature,
    }
    return client.post("/hooks/issues", content=body, headers=headers).status_code


def test_the_receiver_takes_a_signed_body_once_per_delivery(receiver: TestClient) -> None:
    body = b'{"id": 7, "type": "issue.created", "issue_id": "42"}'
    assert deliver(receiver, body, sign(SECRET, body), "d-1") == 204
    # A retry of the same delivery: answered, not handled again.
    assert deliver(receiver, body, sign(SECRET, body), "d-1") == 204
    assert receiver.handled == {"d-1": json.loads(body)}  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "signature",
    [
        pytest.param(sign("another secret entirely", b"{}"), id="other-secret"),
        pytest.param("sha256=" + "0" * 64, id="zeros"),
        pytest.param("", id="empty"),
        pytest.param("sha1=abc", id="other-scheme"),
        pytest.param(sign(SECRET, b"{}")[:-2], id="truncated"),
    ],
)
def test_the_receiver_refuses_a_bad_signature(receiver: TestClient, signature: str) -> None:
    assert deliver(receiver, b"{}", signature, "d-2") == 401
    assert receiver.handled == {}  # type: ignore[attr-defined]


def test_the_receiver_refuses_a_body_changed_after_signing(receiver: TestClient) -> None:
    signed = b'{"issue_id": "42", "type": "issue.created"}'
    changed = b'{"issue_id": "43", "type": "issue.created"}'
    assert deliver(receiver, changed, sign(SECRET, signed), "d-3") == 401
    # Re-encoding the JSON changes the bytes: the signature is over what was sent.
    spaced = json.dumps(json.loads(signed), indent=1).encode()
    assert deliver(receiver, spaced, sign(SECRET, signed), "d-3") == 401
    assert receiver.handled == {}  # type: ignore[attr-defined]


@pytest.mark.anyio
async def test_the_receiver_takes_the_workers_real_deliveries(receiver: TestClient) -> None:
    store = InMemoryIssueStore()
    hook = await store.hooks.create_hook(HookCreate(url=RECEIVER, secret=SecretStr(SECRET)))
    issue = await store.create(IssueCreate(title="Delivered", description="to the docs"))
    await store.hooks.queue_ping(hook.id)
    transport = httpx.ASGITransport(app=receiver.app)
    worker = DeliveryWorker(store.hooks, store, allow_private_targets=True, transport=transport)
    try:
        for _ in range(50):
            await worker.run_once()
            page = await store.hooks.list_deliveries(hook.id)
            if [d.state.value for d in page.items] == ["delivered"] * 2:
                break
            await asyncio.sleep(0.02)
    finally:
        await worker.aclose()
    assert [d.status_code for d in page.items] == [204, 204]
    handled = receiver.handled  # type: ignore[attr-defined]
    assert {d.id for d in page.items} == set(handled)
    events = sorted(handled.values(), key=lambda event: str(event.get("type")))
    assert events[0]["type"] == "issue.created"
    assert events[0]["issue"]["id"] == issue.id
    assert events[1] == {"type": "ping", "hook_id": hook.id, "hook": events[1]["hook"]}
