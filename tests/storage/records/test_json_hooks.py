"""The JSON store's webhooks in one process: what `hooks.json` keeps and gives back after a
reopening, folders from before webhooks, corrupt files, and the delivery lease."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fastapi_issues import CorruptStoreError, IssueCreate, IssueQuery
from fastapi_issues.schemas import DeliveryState, HookCreate, HookUpdate
from fastapi_issues.storage import JSONFileIssueStore
from fastapi_issues.storage.deliveries import AttemptResult
from fastapi_issues.storage.errors import DeliveryNotFound, HookNotFound
from fastapi_issues.storage.records._json_hooks import FileLease
from tests.storage.records.test_json_format import write_with_release_0_1

pytestmark = pytest.mark.anyio

SECRET = "0123456789abcdef-very-secret"


def hook(url: str = "https://example.com/hooks", **fields: object) -> HookCreate:
    return HookCreate.model_validate({"url": url, "secret": SECRET, **fields})


def answer(ok: bool = True, retry_in: float | None = None) -> AttemptResult:
    now = datetime.now(UTC)
    retry_at = None if retry_in is None else now + timedelta(seconds=retry_in)
    status = 200 if ok else 500
    return AttemptResult(now, ok, status, 12.5, "ünïcode answer", retry_at)


async def add_issues(store: JSONFileIssueStore, count: int) -> None:
    for n in range(count):
        await store.create(IssueCreate(title=f"Issue {n}", description="Described well"))


async def test_hooks_and_deliveries_come_back_from_the_file_as_written(tmp_path: Path) -> None:
    store = JSONFileIssueStore(tmp_path / "issues.json")
    await add_issues(store, 1)  # before the hook: never delivered
    made = await store.hooks.create_hook(hook(events=["issue.created", "issue.closed"]))
    quiet = await store.hooks.create_hook(hook("https://example.org/x", active=False))
    await add_issues(store, 3)
    assert await store.hooks.enqueue_deliveries() == 3
    ping = await store.hooks.queue_ping(quiet.id)
    due = {d.id: d for d in await store.hooks.due_deliveries()}
    first = min((d for d in due.values() if d.event_id), key=lambda d: d.event_id or 0)
    failing = await store.hooks.record_attempt(first.id, answer(ok=False, retry_in=60))
    before = await store.hooks.list_deliveries(made.id)
    store.close()

    again = JSONFileIssueStore(tmp_path / "issues.json")
    hooks = again.hooks
    assert (await hooks.list_hooks()).items == [failing, quiet]
    assert failing.failing_since is not None
    assert await hooks.list_deliveries(made.id) == before
    assert [d.event_id for d in before.items] == [4, 3, 2]
    retried = await hooks.get_delivery(made.id, first.id)
    assert (retried.state, retried.attempts, retried.status_code) == ("pending", 1, 500)
    assert retried.response == "ünïcode answer"
    # What the worker gets back is byte for byte what it got before: the signature's input.
    [pinged] = [d for d in await hooks.due_deliveries() if d.id == ping.id]
    assert (pinged.body, pinged.secret) == (due[ping.id].body, SECRET)
    # The cursors were kept: nothing is enqueued twice, and what comes next is.
    assert await hooks.enqueue_deliveries() == 0
    await add_issues(again, 1)
    assert await hooks.enqueue_deliveries() == 1
    again.close()


async def test_the_file_is_private_and_only_it_holds_the_secret(tmp_path: Path) -> None:
    store = JSONFileIssueStore(tmp_path / "issues.json")
    made = await store.hooks.create_hook(hook())
    await store.hooks.update_hook(made.id, HookUpdate(secret="another-secret-16+"))
    store.close()
    assert store.hooks.path == tmp_path / "hooks.json"  # type: ignore[attr-defined]
    assert (tmp_path / "hooks.json").stat().st_mode & 0o777 == 0o600
    holding = [p.name for p in tmp_path.iterdir() if b"another-secret" in p.read_bytes()]
    assert holding == ["hooks.json"]
    lines = (tmp_path / "hooks.json").read_text().splitlines()
    assert lines[0] == '{"format": "fastapi-issues.hooks", "version": 2, "records": ['


async def test_a_store_not_named_issues_json_keeps_its_hooks_beside_it(tmp_path: Path) -> None:
    store = JSONFileIssueStore(tmp_path / "tracker.json")
    await store.hooks.create_hook(hook())
    store.close()
    assert (tmp_path / "tracker.hooks.json").exists()
    assert not (tmp_path / "hooks.json").exists()


async def test_deleting_a_hook_removes_its_deliveries_from_the_file(tmp_path: Path) -> None:
    store = JSONFileIssueStore(tmp_path / "issues.json")
    gone = await store.hooks.create_hook(hook())
    kept = await store.hooks.create_hook(hook("https://example.org/kept"))
    await add_issues(store, 2)
    await store.hooks.enqueue_deliveries()
    await store.hooks.delete_hook(gone.id)
    store.close()
    records = json.loads((tmp_path / "hooks.json").read_text())["records"]
    assert {r["kind"] for r in records} == {"hook", "delivery"}
    assert gone.id not in json.dumps(records)
    assert sum(1 for r in records if r["kind"] == "delivery") == 2
    again = JSONFileIssueStore(tmp_path / "issues.json")
    with pytest.raises(HookNotFound):
        await again.hooks.get_hook(gone.id)
    assert (await again.hooks.list_deliveries(kept.id)).total == 2
    again.close()


async def test_finished_deliveries_past_the_cap_leave_the_file(tmp_path: Path) -> None:
    """The file holds each hook's newest finished deliveries and every pending one, so
    it (what every write rewrites) stops growing with the deliveries made."""
    store = JSONFileIssueStore(tmp_path / "issues.json", deliveries_kept=2)
    made = await store.hooks.create_hook(hook())

    def delivery_records() -> list[str]:
        records = json.loads((tmp_path / "hooks.json").read_text())["records"]
        return [r["delivery"]["state"] for r in records if r["kind"] == "delivery"]

    held = []
    for _ in range(5):
        await add_issues(store, 1)
        await store.hooks.enqueue_deliveries()
        [due] = await store.hooks.due_deliveries()
        await store.hooks.record_attempt(due.id, answer(ok=True))
        held.append(len(delivery_records()))
    assert held == [1, 2, 2, 2, 2]
    await add_issues(store, 3)
    await store.hooks.enqueue_deliveries()
    assert sorted(delivery_records()) == ["delivered"] * 2 + ["pending"] * 3
    store.close()
    again = JSONFileIssueStore(tmp_path / "issues.json")  # the file, not the cap, says this
    page = await again.hooks.list_deliveries(made.id)
    assert [d.event_id for d in page.items] == [8, 7, 6, 5, 4]
    again.close()


def test_a_cap_below_zero_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="deliveries_kept must be a whole number >= 0"):
        JSONFileIssueStore(tmp_path / "issues.json", deliveries_kept=-1)


async def test_a_failed_step_writes_nothing(tmp_path: Path) -> None:
    store = JSONFileIssueStore(tmp_path / "issues.json")
    await store.hooks.create_hook(hook())
    written = (tmp_path / "hooks.json").read_bytes()
    with pytest.raises(DeliveryNotFound):
        await store.hooks.record_attempt("no-such-delivery", answer())
    with pytest.raises(HookNotFound):
        await store.hooks.queue_ping("no-such-hook")
    assert (tmp_path / "hooks.json").read_bytes() == written
    store.close()


async def test_concurrent_writes_of_one_process_are_all_kept(tmp_path: Path) -> None:
    store = JSONFileIssueStore(tmp_path / "issues.json")
    made = await store.hooks.create_hook(hook())
    pings = await asyncio.gather(*(store.hooks.queue_ping(made.id) for _ in range(25)))
    store.close()
    again = JSONFileIssueStore(tmp_path / "issues.json")
    page = await again.hooks.list_deliveries(made.id, limit=100)
    assert sorted(d.id for d in page.items) == sorted(p.id for p in pings)
    again.close()


async def test_a_folder_from_0_1_has_no_hooks_and_gets_them(tmp_path: Path) -> None:
    folder, _ = write_with_release_0_1(tmp_path)
    store = JSONFileIssueStore(folder / "issues.json")
    assert (await store.hooks.list_hooks()).total == 0
    assert await store.hooks.enqueue_deliveries() == 0
    assert await store.hooks.due_deliveries() == []
    # Reading makes no hooks file: the folder stays as it was until a hook is made.
    assert not list(folder.glob("hooks.json*"))

    made = await store.hooks.create_hook(hook())
    await add_issues(store, 2)
    assert await store.hooks.enqueue_deliveries() == 2
    [head] = await store.hooks.due_deliveries()  # the hook's queue, oldest first
    assert json.loads(head.body)["issue"]["title"] == "Issue 0"
    store.close()
    again = JSONFileIssueStore(folder / "issues.json")
    assert (await again.list(IssueQuery(limit=100))).total == 8
    assert (await again.hooks.list_deliveries(made.id)).total == 2
    again.close()


@pytest.mark.parametrize(
    ("record", "problem"),
    [
        ({"kind": "secret-agent"}, "unknown kind"),
        ({"kind": "hook", "hook": {"id": "x"}, "secret": "s", "cursor": 0}, "item 0"),
        ({"kind": "delivery"}, "item 0"),
        ("a string", "item 0"),
    ],
)
async def test_a_corrupt_hooks_file_is_refused_and_left_alone(
    tmp_path: Path, record: object, problem: str
) -> None:
    path = tmp_path / "hooks.json"
    text = '{"format": "fastapi-issues.hooks", "version": 2, "records": [\n'
    text += json.dumps(record) + "\n]}\n"
    path.write_text(text)
    with pytest.raises(CorruptStoreError, match=problem) as caught:
        JSONFileIssueStore(tmp_path / "issues.json")
    assert "hooks.json" in str(caught.value)
    assert path.read_text() == text


async def test_a_delivery_whose_queued_flag_is_not_a_boolean_is_refused(tmp_path: Path) -> None:
    store = JSONFileIssueStore(tmp_path / "issues.json")
    made = await store.hooks.create_hook(hook())
    await store.hooks.queue_ping(made.id)
    store.close()
    path = tmp_path / "hooks.json"
    path.write_text(path.read_text().replace('"queued": false', '"queued": "no"'))
    with pytest.raises(CorruptStoreError, match="queued"):
        JSONFileIssueStore(tmp_path / "issues.json")


# -- the lease -----------------------------------------------------------------------------


async def test_one_owner_holds_the_lease_across_stores_on_the_same_files(tmp_path: Path) -> None:
    first = JSONFileIssueStore(tmp_path / "issues.json")
    second = JSONFileIssueStore(tmp_path / "issues.json")
    assert await first.hooks.hold_delivery_lease("a")
    assert await first.hooks.hold_delivery_lease("a")  # renewed
    assert not await first.hooks.hold_delivery_lease("b")
    assert not await second.hooks.hold_delivery_lease("b")
    assert not await second.hooks.hold_delivery_lease("a")  # a name is not the lock
    await first.hooks.release_delivery_lease("b")  # not the holder: nothing happens
    assert not await second.hooks.hold_delivery_lease("b")
    await first.hooks.release_delivery_lease("a")
    assert await second.hooks.hold_delivery_lease("b")
    assert not await first.hooks.hold_delivery_lease("a")
    second.close()  # closing gives it up
    assert await first.hooks.hold_delivery_lease("a")
    first.close()


async def test_a_holder_that_stops_renewing_loses_the_lease(tmp_path: Path) -> None:
    path = tmp_path / "hooks.json.lease"
    stalled, other = FileLease(path, seconds=0.3), FileLease(path, seconds=0.3)
    assert stalled.hold("stalled")
    await asyncio.sleep(0.2)
    assert stalled.hold("stalled")  # renewing moves the end
    await asyncio.sleep(0.2)
    assert not other.hold("other")
    assert not stalled.hold("someone else")
    await asyncio.sleep(0.3)
    assert other.hold("other")
    assert not stalled.hold("stalled")
    stalled.close()
    other.close()


def test_a_lapsed_lease_passes_within_the_process_when_its_loop_is_gone(tmp_path: Path) -> None:
    lease = FileLease(tmp_path / "hooks.json.lease", seconds=0.1)

    async def hold(owner: str) -> bool:
        return lease.hold(owner)

    assert asyncio.run(hold("first"))  # its timer dies with this loop
    assert not asyncio.run(hold("second"))
    asyncio.run(asyncio.sleep(0.15))
    assert asyncio.run(hold("second"))
    lease.close()


async def test_a_lease_file_that_cannot_be_made_refuses_rather_than_fails(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    lease = FileLease(tmp_path / "missing-folder" / "hooks.json.lease")
    with caplog.at_level(logging.WARNING, "fastapi_issues"):
        assert not lease.hold("worker")
        assert not lease.hold("worker")
    # Said once, not at every try of a worker.
    assert [r.getMessage().split(" cannot")[0] for r in caplog.records] == [str(lease.path)]
    lease.close()


async def test_pending_deliveries_are_due_again_after_reopening(tmp_path: Path) -> None:
    store = JSONFileIssueStore(tmp_path / "issues.json")
    await store.hooks.create_hook(hook())
    await add_issues(store, 2)
    await store.hooks.enqueue_deliveries()
    [head] = await store.hooks.due_deliveries()
    store.close()
    again = JSONFileIssueStore(tmp_path / "issues.json")
    [same] = await again.hooks.due_deliveries()
    assert same == head
    await again.hooks.record_attempt(same.id, answer())
    [following] = await again.hooks.due_deliveries()
    assert following.event_id == (head.event_id or 0) + 1
    page = await again.hooks.list_deliveries(head.hook_id)
    assert [d.state for d in page.items] == [DeliveryState.pending, DeliveryState.delivered]
    again.close()
