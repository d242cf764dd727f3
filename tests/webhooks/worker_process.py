"""A delivery worker in a process of its own, on the store a URL names, until SIGTERM:
`python -m tests.webhooks.worker_process sqlite:///path/issues.db`."""

from __future__ import annotations

import asyncio
import signal
import sys

from fastapi_issues.storage.protocols import HookStore
from fastapi_issues.storage.urls import close_store, open_issue_store, prepare_store
from fastapi_issues.webhooks import DeliveryWorker, RetryPolicy


async def main(url: str) -> None:
    store = open_issue_store(url)
    await prepare_store(store)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    hooks: HookStore = getattr(store, "hooks")  # noqa: B009 (TrackerStore does not name it)
    retry = RetryPolicy(attempts=50, first_delay=0.05, factor=1, jitter=0)
    async with DeliveryWorker(hooks, store, allow_private_targets=True, retry=retry):  # type: ignore[arg-type]
        print("ready", flush=True)
        await stop.wait()
    await close_store(store)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
