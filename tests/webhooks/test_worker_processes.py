"""Two worker processes on one SQLite file: one delivers at a time, and killing it with
`kill -9` in the middle of a delivery loses nothing (the other takes over within 30 s and
sends the delivery in flight again, under the same id)."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from fastapi_issues import IssueCreate
from fastapi_issues.schemas import DeliveryState, HookCreate
from fastapi_issues.storage.sql import SQLIssueStore
from tests.webhooks.receiver import Answer, Received, Receiver

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
SECRET = "a-test-secret-of-32-characters!!"
EVENTS = 8
SLOW = 3  # the how-manieth delivery is answered slowly the first time: killed mid-way


def start_worker(url: str) -> subprocess.Popen[bytes]:
    worker = subprocess.Popen(
        [sys.executable, "-m", "tests.webhooks.worker_process", url],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        env=os.environ.copy(),
    )
    assert worker.stdout is not None
    assert worker.stdout.readline().strip() == b"ready"
    return worker


@pytest.fixture
def workers() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for worker in started:
        if worker.poll() is None:
            worker.terminate()
            worker.wait(timeout=30)


def lease_holder(database: Path) -> int:
    with sqlite3.connect(database) as db:
        [(owner,)] = db.execute("SELECT owner FROM hook_lease").fetchall()
    return int(owner.split(":")[1])


async def test_a_worker_killed_mid_delivery_loses_nothing(
    tmp_path: Path, workers: list[subprocess.Popen[bytes]]
) -> None:
    database = tmp_path / "issues.db"
    url = f"sqlite:///{database}"
    store = SQLIssueStore(url)
    await store.open()

    def plan(got: Received) -> Answer:
        order = list(dict.fromkeys(r.delivery for r in receiver.snapshot()))
        slow = got.attempt == 1 and order.index(got.delivery) == SLOW - 1
        return Answer(delay=60) if slow else Answer()

    try:
        with Receiver(SECRET, plan) as receiver:
            hook = await store.hooks.create_hook(
                HookCreate(url=receiver.url, secret=SecretStr(SECRET))
            )
            workers += [start_worker(url), start_worker(url)]
            for n in range(EVENTS // 2):
                await store.create(IssueCreate(title=f"issue {n}", description="before the kill"))
            async with asyncio.timeout(30):
                while len({r.delivery for r in receiver.snapshot()}) < SLOW:  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
            holder = lease_holder(database)
            [victim] = [w for w in workers if w.pid == holder]
            victim.send_signal(signal.SIGKILL)
            victim.wait(timeout=10)
            for n in range(EVENTS // 2, EVENTS):
                await store.create(IssueCreate(title=f"issue {n}", description="after the kill"))
            async with asyncio.timeout(90):
                while True:
                    page = await store.hooks.list_deliveries(hook.id, limit=100)
                    done = [d for d in page.items if d.state is DeliveryState.delivered]
                    if len(done) == EVENTS:
                        break
                    await asyncio.sleep(0.1)
            got = receiver.snapshot()
            assert lease_holder(database) != holder
    finally:
        await store.aclose()
    assert all(r.signed for r in got)
    ids = [r.delivery for r in got]
    assert set(ids) == {d.id for d in page.items}
    twice = {i for i in ids if ids.count(i) > 1}
    assert twice == {ids[SLOW - 1]}
    assert ids.count(ids[SLOW - 1]) == 2
    # In event order: the first arrival of each delivery follows the event ids.
    firsts = list(dict.fromkeys(ids))
    by_id = {d.id: d.event_id for d in page.items}
    assert [by_id[i] for i in firsts] == sorted(by_id[i] for i in firsts)
