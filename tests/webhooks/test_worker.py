"""The delivery worker against a real receiver on 127.0.0.1, over the memory store."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import SecretStr

from fastapi_issues import InMemoryIssueStore, IssueCreate
from fastapi_issues.schemas import DeliveryState, HookCreate
from fastapi_issues.webhooks import DeliveryWorker, RetryPolicy
from tests.webhooks.receiver import Receiver, failing_first

pytestmark = pytest.mark.anyio

SECRET = "a-test-secret-of-32-characters!!"
QUICK = RetryPolicy(first_delay=0.01, factor=1.0, jitter=0.0)


async def new_issue(store: InMemoryIssueStore, n: int) -> None:
    await store.create(IssueCreate(title=f"issue {n}", description="described enough"))


async def test_every_event_arrives_signed_in_order_after_two_failures() -> None:
    with Receiver(SECRET, failing_first(2)) as receiver:
        store = InMemoryIssueStore()
        hooks = store.hooks
        hook = await hooks.create_hook(HookCreate(url=receiver.url, secret=SecretStr(SECRET)))
        for n in range(3):
            await new_issue(store, n)
        worker = DeliveryWorker(hooks, store, allow_private_targets=True, retry=QUICK)
        try:
            for _ in range(20):
                await worker.run_once()
                await asyncio.sleep(0.02)
        finally:
            await worker.aclose()
        got = receiver.snapshot()
        page = await hooks.list_deliveries(hook.id)
    assert all(r.signed for r in got)
    assert {r.hook_id for r in got} == {hook.id}
    assert [d.state for d in page.items] == [DeliveryState.delivered] * 3
    assert [d.attempts for d in page.items] == [3, 3, 3]
    # Three attempts each, and a later delivery never before an earlier one is delivered.
    oldest_first = [d.id for d in reversed(page.items)]
    assert [r.delivery for r in got] == [i for i in oldest_first for _ in range(3)]
