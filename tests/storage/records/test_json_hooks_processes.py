"""The JSON store's webhooks across processes: `kill -9` right after acknowledged writes and
at the rename of one, two processes writing the same `hooks.json`, and the delivery lease
passing on at once when its holder is killed."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import pytest

from fastapi_issues import IssueCreate
from fastapi_issues.schemas import DeliveryState, HookCreate
from fastapi_issues.storage import JSONFileIssueStore
from fastapi_issues.storage.query import EventQuery
from tests.storage.records.test_json_hooks import answer

SRC = str(Path(__file__).resolve().parents[3] / "src")
ENV = {**os.environ, "PYTHONPATH": SRC}
SECRET = "0123456789abcdef-very-secret"
KILLS = 3

# Writes issues and delivers them to the hook without pause; prints each acknowledged
# enqueue (the delivery ids it made) and each acknowledged attempt, until it is killed.
DELIVER_FOREVER = textwrap.dedent(
    """
    import asyncio, sys
    from datetime import UTC, datetime
    from fastapi_issues import IssueCreate
    from fastapi_issues.storage import JSONFileIssueStore
    from fastapi_issues.storage.deliveries import AttemptResult

    async def main(path, hook_id):
        store = JSONFileIssueStore(path)
        hooks = store.hooks
        n = 0
        while True:
            n += 1
            await store.create(IssueCreate(title=f"Issue {n}", description="Delivered"))
            made = await hooks.enqueue_deliveries()
            if made:
                page = await hooks.list_deliveries(hook_id, limit=made)
                print("enqueued", *[d.id for d in page.items], flush=True)
            for due in await hooks.due_deliveries(limit=2):
                now = datetime.now(UTC)
                await hooks.record_attempt(due.id, AttemptResult(now, True, 204, 1.0, ""))
                print("recorded", due.id, flush=True)

    asyncio.run(main(sys.argv[1], sys.argv[2]))
    """
)

# Makes three issues, then dies by SIGKILL at the rename of the hooks file's next write:
# the new file written and fsynced, not yet in place.
KILLED_AT_THE_RENAME = textwrap.dedent(
    """
    import asyncio, os, signal, sys
    from datetime import UTC, datetime
    from fastapi_issues import IssueCreate
    from fastapi_issues.storage import JSONFileIssueStore
    from fastapi_issues.storage.deliveries import AttemptResult

    path, step = sys.argv[1], sys.argv[2]
    real_replace = os.replace

    def replace(src, dst):
        if os.fspath(dst).endswith("hooks.json"):
            os.kill(os.getpid(), signal.SIGKILL)
        real_replace(src, dst)

    async def main():
        store = JSONFileIssueStore(path)
        if step == "enqueue":
            for n in range(3):
                await store.create(IssueCreate(title=f"Issue {n}", description="Never sent"))
            os.replace = replace
            await store.hooks.enqueue_deliveries()
        else:
            [due] = await store.hooks.due_deliveries(limit=1)
            at = datetime.now(UTC)
            os.replace = replace
            await store.hooks.record_attempt(due.id, AttemptResult(at, True, 200, 1.0, ""))

    asyncio.run(main())
    """
)

# One step on the store, its answer printed: another process's view of the same files.
STEP = textwrap.dedent(
    """
    import asyncio, sys
    from fastapi_issues.schemas import HookCreate
    from fastapi_issues.storage import JSONFileIssueStore

    async def main(path, step, *args):
        hooks = JSONFileIssueStore(path).hooks
        if step == "create":
            made = await hooks.create_hook(HookCreate(url=args[0], secret=args[1]))
            print(made.id)
        elif step == "enqueue":
            print(await hooks.enqueue_deliveries())
        elif step == "states":
            page = await hooks.list_deliveries(args[0], limit=100)
            print(*sorted(f"{d.event_id}:{d.state.value}" for d in page.items))
        elif step == "hooks":
            print(*[h.url for h in (await hooks.list_hooks()).items])

    asyncio.run(main(*sys.argv[1:]))
    """
)

# Takes the lease for "child" and answers each line: "hold" tries again, "release" gives
# it up; prints True or False after each.
LEASE_HOLDER = textwrap.dedent(
    """
    import asyncio, sys
    from fastapi_issues.storage import JSONFileIssueStore

    async def main(path):
        hooks = JSONFileIssueStore(path).hooks
        print(await hooks.hold_delivery_lease("child"), flush=True)
        while line := await asyncio.to_thread(sys.stdin.readline):
            if line.strip() == "release":
                await hooks.release_delivery_lease("child")
                print("released", flush=True)
            else:
                print(await hooks.hold_delivery_lease("child"), flush=True)

    asyncio.run(main(sys.argv[1]))
    """
)


def run_step(path: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", STEP, str(path), *args],
        env=ENV,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout.strip()


def start(script: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", script, *args],
        env=ENV,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def receive(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line, f"process {process.pid} exited with {process.wait(timeout=10)}"
    return line.strip()


def send(process: subprocess.Popen[str], line: str) -> None:
    assert process.stdin is not None
    process.stdin.write(line + "\n")
    process.stdin.flush()


def kill_9(process: subprocess.Popen[str]) -> None:
    os.kill(process.pid, signal.SIGKILL)
    assert process.wait(timeout=10) == -signal.SIGKILL


async def make_hook(path: Path) -> str:
    store = JSONFileIssueStore(path)
    made = await store.hooks.create_hook(
        HookCreate.model_validate({"url": "https://example.com/h", "secret": SECRET})
    )
    store.close()
    return made.id


@pytest.mark.slow
def test_kill_9_right_after_acknowledged_writes_loses_none_and_doubles_none(
    tmp_path: Path,
) -> None:
    path = tmp_path / "issues.json"
    hook_id = asyncio.run(make_hook(path))
    enqueued: set[str] = set()
    recorded: set[str] = set()
    for kill in range(KILLS):
        worker = start(DELIVER_FOREVER, str(path), hook_id)
        try:
            # A few more acknowledgements each time, so the kill lands at varied moments.
            for _ in range(20 + 7 * kill):
                kind, *ids = receive(worker).split()
                (enqueued if kind == "enqueued" else recorded).update(ids)
        finally:
            kill_9(worker)
        asyncio.run(check_after_kill(path, hook_id, enqueued, recorded))
    assert len(recorded) >= KILLS * 10


async def check_after_kill(
    path: Path, hook_id: str, enqueued: set[str], recorded: set[str]
) -> None:
    store = JSONFileIssueStore(path)
    page = await store.hooks.list_deliveries(hook_id, limit=10_000)
    by_id = {d.id: d for d in page.items}
    assert enqueued <= by_id.keys(), "an acknowledged enqueue was lost"
    assert all(by_id[i].state is DeliveryState.delivered for i in recorded)
    assert all(by_id[i].attempts == 1 for i in recorded)
    # The cursor moved with the deliveries: no event was queued twice, none skipped.
    doubled = [e for e, n in Counter(d.event_id for d in page.items).items() if n > 1]
    assert not doubled, f"events queued twice: {doubled}"
    await store.hooks.enqueue_deliveries(limit=10_000)
    page = await store.hooks.list_deliveries(hook_id, limit=10_000)
    events = await store.list_events(EventQuery(limit=10_000))
    assert sorted(d.event_id or 0 for d in page.items) == [e.id for e in events]
    store.close()


@pytest.mark.parametrize("step", ["enqueue", "record"])
def test_kill_9_at_the_rename_leaves_the_write_undone_and_redone_once(
    tmp_path: Path, step: str
) -> None:
    path = tmp_path / "issues.json"
    hook_id = asyncio.run(make_hook(path))
    if step == "record":
        asyncio.run(add_and_enqueue(path, 3))
    before = (tmp_path / "hooks.json").read_bytes()
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_AT_THE_RENAME, str(path), step], env=ENV, timeout=60
    )
    assert killed.returncode == -signal.SIGKILL
    assert (tmp_path / "hooks.json").read_bytes() == before
    asyncio.run(check_redone(path, hook_id))
    assert not list(tmp_path.glob(".hooks.json.*.tmp"))  # the debris is swept by a write


async def add_and_enqueue(path: Path, count: int) -> None:
    store = JSONFileIssueStore(path)
    for n in range(count):
        await store.create(IssueCreate(title=f"Issue {n}", description="Queued"))
    assert await store.hooks.enqueue_deliveries() == count
    store.close()


async def check_redone(path: Path, hook_id: str) -> None:
    store = JSONFileIssueStore(path)
    hooks = store.hooks
    # An enqueue killed before its rename moved no cursor, so it is made now, once; an
    # attempt killed before its rename left the delivery pending, due with the same id.
    await hooks.enqueue_deliveries()
    page = await hooks.list_deliveries(hook_id)
    assert sorted(d.event_id or 0 for d in page.items) == [1, 2, 3]
    assert all(d.state is DeliveryState.pending and d.attempts == 0 for d in page.items)
    [due] = await hooks.due_deliveries()
    assert due.event_id == 1
    await hooks.record_attempt(due.id, answer())
    assert (await hooks.get_delivery(hook_id, due.id)).state is DeliveryState.delivered
    store.close()


@pytest.mark.slow
def test_two_processes_see_and_keep_each_others_writes(tmp_path: Path) -> None:
    path = tmp_path / "issues.json"
    asyncio.run(two_processes(path))


async def two_processes(path: Path) -> None:
    here = JSONFileIssueStore(path)
    hooks = here.hooks
    assert (await hooks.list_hooks()).total == 0  # read before the other process writes
    hook_id = await asyncio.to_thread(run_step, path, "create", "https://other.example/h", SECRET)
    assert [h.id for h in (await hooks.list_hooks()).items] == [hook_id]

    for n in range(2):
        await here.create(IssueCreate(title=f"Issue {n}", description="From here"))
    assert await asyncio.to_thread(run_step, path, "enqueue") == "2"
    # A write here after the other process's: made on the file as it wrote it, not as this
    # process last saw it.
    ping = await hooks.queue_ping(hook_id)
    [first, _] = sorted(
        (d for d in (await hooks.list_deliveries(hook_id)).items if d.event_id),
        key=lambda d: d.event_id or 0,
    )
    due = {d.id for d in await hooks.due_deliveries()}
    assert due == {first.id, ping.id}
    await hooks.record_attempt(first.id, answer())
    states = await asyncio.to_thread(run_step, path, "states", hook_id)
    assert states == "1:delivered 2:pending None:pending"
    # The other process reads the cursor this one's file holds: nothing to enqueue again.
    assert await asyncio.to_thread(run_step, path, "enqueue") == "0"
    here.close()


@pytest.mark.slow
def test_the_lease_is_exclusive_across_processes_and_passes_at_once_on_kill_9(
    tmp_path: Path,
) -> None:
    path = tmp_path / "issues.json"
    asyncio.run(lease_across_processes(path))


async def lease_across_processes(path: Path) -> None:
    hooks = JSONFileIssueStore(path).hooks
    holder = start(LEASE_HOLDER, str(path))
    try:
        assert receive(holder) == "True"
        assert not await hooks.hold_delivery_lease("parent")
        send(holder, "hold")
        assert receive(holder) == "True"  # renewed
        kill_9(holder)
        # No wait: the operating system dropped the dead process's lock.
        assert await hooks.hold_delivery_lease("parent")
    finally:
        holder.kill()
        holder.wait(timeout=10)

    waiting = start(LEASE_HOLDER, str(path))
    try:
        assert receive(waiting) == "False"
        await hooks.release_delivery_lease("parent")
        send(waiting, "hold")
        assert receive(waiting) == "True"
        assert not await hooks.hold_delivery_lease("parent")
        send(waiting, "release")
        assert receive(waiting) == "released"
        assert await hooks.hold_delivery_lease("parent")
    finally:
        assert waiting.stdin is not None
        waiting.stdin.close()
        waiting.wait(timeout=10)
