"""The SQL stores' webhooks on SQLite and PostgreSQL: the contract suite, and what only
SQL stores do (the lease across processes and schemas, the cascade, the due query's index)."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import Table, func, insert, select
from sqlalchemy.dialects.sqlite import dialect as sqlite_dialect
from sqlalchemy.ext.asyncio import create_async_engine

from fastapi_issues.schemas import HookCreate, IssueCreate
from fastapi_issues.storage.clock import system_clock
from fastapi_issues.storage.deliveries import AttemptResult, event_body
from fastapi_issues.storage.errors import DeliveryNotFound, HookNotFound
from fastapi_issues.storage.query import EventQuery
from fastapi_issues.storage.sql import SQLIssueStore
from fastapi_issues.storage.sql._hook_due import DUE as _DUE
from fastapi_issues.storage.sql._hook_lease import LEASE_SECONDS
from fastapi_issues.storage.sql._hooks import _DROP_FINISHED
from fastapi_issues.storage.sql._schema import hook_deliveries
from fastapi_issues.testing import HookStoreContract, ManualClock


class TestSQLiteHooks(HookStoreContract):
    @pytest.fixture
    async def store(self, tmp_path: Path, clock: ManualClock) -> AsyncIterator[SQLIssueStore]:
        store = SQLIssueStore(f"sqlite:///{tmp_path / 'issues.db'}", clock=clock)
        await store.create_schema()
        yield store
        await store.aclose()


class TestPostgresHooks(HookStoreContract):
    @pytest.fixture
    async def store(
        self, postgres_url: str, postgres_schema: str, clock: ManualClock
    ) -> AsyncIterator[SQLIssueStore]:
        store = SQLIssueStore(postgres_url, schema=postgres_schema, clock=clock)
        await store.create_schema()
        yield store
        await store.aclose()


pytestmark = pytest.mark.anyio

SECRET = "0123456789abcdef-secret"
HOOK = HookCreate(url="https://ci.example.com/hooks", secret=SecretStr(SECRET))


def _new(title: str = "An issue") -> IssueCreate:
    return IssueCreate(title=title, description="Something broke")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def where(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str | None]:
    """A SQLite file, or a PostgreSQL schema of this test's own: (url, schema)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'issues.db'}", None
    return request.getfixturevalue("postgres_url"), request.getfixturevalue("postgres_schema")


@pytest.fixture
async def pair(where: tuple[str, str | None]) -> AsyncIterator[tuple[SQLIssueStore, ...]]:
    """Two stores on the same data, each with an engine of its own, as two processes have."""
    url, schema = where
    stores = (SQLIssueStore(url, schema=schema), SQLIssueStore(url, schema=schema))
    await stores[0].create_schema()
    yield stores
    for store in stores:
        await store.aclose()


async def _count(store: SQLIssueStore, table: Table) -> int:
    async with store.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


# -- the lease ------------------------------------------------------------------------------


async def test_the_lease_is_one_owners_across_engines_until_released(
    pair: tuple[SQLIssueStore, SQLIssueStore],
) -> None:
    first, second = pair
    assert await first.hooks.hold_delivery_lease("process-1")
    assert not await second.hooks.hold_delivery_lease("process-2")
    assert await first.hooks.hold_delivery_lease("process-1")
    await second.hooks.release_delivery_lease("process-2")
    assert not await second.hooks.hold_delivery_lease("process-2")
    await first.hooks.release_delivery_lease("process-1")
    assert await second.hooks.hold_delivery_lease("process-2")
    assert not await first.hooks.hold_delivery_lease("process-1")


async def test_a_lease_not_renewed_is_taken_over_once_it_expires(
    where: tuple[str, str | None],
) -> None:
    url, schema = where
    clock = ManualClock()
    holder = SQLIssueStore(url, schema=schema, clock=clock)
    other = SQLIssueStore(url, schema=schema, clock=clock)
    try:
        assert await holder.hooks.hold_delivery_lease("holder")
        clock.advance(timedelta(seconds=LEASE_SECONDS - 1))
        assert not await other.hooks.hold_delivery_lease("other")
        # Renewed in time, it lasts LEASE_SECONDS from the renewal.
        assert await holder.hooks.hold_delivery_lease("holder")
        clock.advance(timedelta(seconds=LEASE_SECONDS))
        assert not await other.hooks.hold_delivery_lease("other")
        clock.advance(timedelta(seconds=1))
        assert await other.hooks.hold_delivery_lease("other")
        # The old holder, back late, finds it gone.
        assert not await holder.hooks.hold_delivery_lease("holder")
    finally:
        await holder.aclose()
        await other.aclose()


_HOLD = r"""
import asyncio, sys
from fastapi_issues.storage.sql import SQLIssueStore

async def main():
    store = SQLIssueStore(sys.argv[1], schema=sys.argv[2] or None)
    assert await store.hooks.hold_delivery_lease("doomed")
    print("held", flush=True)
    await asyncio.sleep(600)

asyncio.run(main())
"""


async def test_a_killed_holders_lease_is_taken_over_within_the_lease_time(
    where: tuple[str, str | None],
) -> None:
    url, schema = where
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _HOLD, url, schema or "", stdout=asyncio.subprocess.PIPE
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), timeout=60)
        assert line == b"held\n"
    finally:
        process.kill()  # SIGKILL: no release
        await process.wait()
    now = system_clock()
    at_once = SQLIssueStore(url, schema=schema)
    later = SQLIssueStore(url, schema=schema, clock=lambda: now + timedelta(LEASE_SECONDS + 1))
    try:
        assert not await at_once.hooks.hold_delivery_lease("survivor")
        assert await later.hooks.hold_delivery_lease("survivor")
    finally:
        await at_once.aclose()
        await later.aclose()


@pytest.mark.postgres
async def test_stores_in_other_postgres_schemas_have_leases_of_their_own(
    postgres_url: str, postgres_schema: str
) -> None:
    stores = [
        SQLIssueStore(postgres_url, schema=postgres_schema),
        SQLIssueStore(postgres_url, schema=f"{postgres_schema}_b"),
    ]
    try:
        assert await stores[0].hooks.hold_delivery_lease("one")
        assert await stores[1].hooks.hold_delivery_lease("two")
        assert not await stores[1].hooks.hold_delivery_lease("one")
    finally:
        for store in stores:
            await store.aclose()
        engine = create_async_engine(postgres_url)
        async with engine.begin() as conn:
            await conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{postgres_schema}_b" CASCADE')
        await engine.dispose()


# -- deliveries -----------------------------------------------------------------------------


async def test_enqueueing_from_two_engines_at_once_makes_each_delivery_once(
    pair: tuple[SQLIssueStore, SQLIssueStore],
) -> None:
    first, second = pair
    hooks = [await first.hooks.create_hook(HOOK) for _ in range(3)]
    for n in range(40):
        await first.create(_new(f"Issue {n}"))
    made = 0
    while True:
        counts = await asyncio.gather(
            first.hooks.enqueue_deliveries(limit=7), second.hooks.enqueue_deliveries(limit=7)
        )
        if not any(counts):
            break
        made += sum(counts)
        # Each hook's head delivered: room in its queue for the next round.
        for due in await first.hooks.due_deliveries():
            ok = AttemptResult(
                system_clock(), ok=True, status_code=200, duration_ms=1.0, response=""
            )
            await first.hooks.record_attempt(due.id, ok)
    assert made == 3 * 40
    for hook in hooks:
        page = await first.hooks.list_deliveries(hook.id, limit=100)
        assert [d.event_id for d in reversed(page.items)] == list(range(1, 41))


async def test_a_delivery_keeps_its_body_when_its_event_is_pruned(
    where: tuple[str, str | None],
) -> None:
    url, schema = where
    clock = ManualClock()
    store = SQLIssueStore(url, schema=schema, clock=clock)
    try:
        hook = await store.hooks.create_hook(HOOK)
        await store.create(_new())
        [event] = await store.list_events(EventQuery())
        assert await store.hooks.enqueue_deliveries() == 1
        clock.advance(timedelta(days=30))
        assert await store.prune_events(before=clock()) == 1
        [due] = await store.hooks.due_deliveries()
        assert (due.hook_id, due.event_id, due.body) == (hook.id, event.id, event_body(event))
    finally:
        await store.aclose()


async def test_deleting_a_hook_deletes_its_delivery_rows(
    pair: tuple[SQLIssueStore, SQLIssueStore],
) -> None:
    store, _ = pair
    kept, deleted = await store.hooks.create_hook(HOOK), await store.hooks.create_hook(HOOK)
    await store.create(_new())
    await store.hooks.queue_ping(deleted.id)
    assert await store.hooks.enqueue_deliveries() == 2
    assert await _count(store, hook_deliveries) == 3
    await store.hooks.delete_hook(deleted.id)
    assert await _count(store, hook_deliveries) == 1
    assert (await store.hooks.list_deliveries(kept.id)).total == 1


async def test_finishing_attempts_drop_the_rows_past_the_cap_even_at_once(
    where: tuple[str, str | None],
) -> None:
    """Two processes finishing deliveries of one hook at the same moment: each counts the
    other's (the hook's row lock orders them), so no more than the cap stays."""
    url, schema = where
    first = SQLIssueStore(url, schema=schema, deliveries_kept=1)
    second = SQLIssueStore(url, schema=schema, deliveries_kept=1)
    await first.create_schema()
    try:
        hook, other = await first.hooks.create_hook(HOOK), await first.hooks.create_hook(HOOK)
        for n in range(5):
            await first.create(_new(f"Issue {n}"))
        assert await first.hooks.enqueue_deliveries() == 10
        page = await first.hooks.list_deliveries(hook.id)
        oldest_first = [d.id for d in reversed(page.items)]
        ok = AttemptResult(
            at=system_clock(), ok=True, status_code=200, duration_ms=1.0, response=""
        )
        for a, b in ((0, 1), (2, 3)):
            await asyncio.gather(
                first.hooks.record_attempt(oldest_first[a], ok),
                second.hooks.record_attempt(oldest_first[b], ok),
            )
            assert await _count(first, hook_deliveries) == 5 + 5 - b  # the other hook's 5 stay
        [kept] = [d for d in (await first.hooks.list_deliveries(hook.id)).items if d.attempts]
        assert kept.id == oldest_first[3]
        assert (await first.hooks.list_deliveries(hook.id)).total == 2
        assert (await first.hooks.list_deliveries(other.id)).total == 5
    finally:
        await first.aclose()
        await second.aclose()


def test_a_store_refuses_a_cap_below_zero(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="deliveries_kept"):
        SQLIssueStore(f"sqlite:///{tmp_path / 'issues.db'}", deliveries_kept=-1)


async def test_the_drop_of_finished_rows_reads_the_hooks_index(tmp_path: Path) -> None:
    store = SQLIssueStore(f"sqlite:///{tmp_path / 'issues.db'}")
    await store.create_schema()
    await store.aclose()
    with sqlite3.connect(tmp_path / "issues.db") as conn:
        compiled = _DROP_FINISHED.compile(dialect=sqlite_dialect())
        values = {**compiled.params, "hook_id": "h", "kept": 100}
        params = [values[name] for name in compiled.positiontup or ()]
        plan = conn.execute(f"EXPLAIN QUERY PLAN {compiled}", params).fetchall()
    steps = " | ".join(str(row[-1]) for row in plan)
    assert "ix_hook_deliveries_hook" in steps, steps
    assert "SCAN hook_deliveries" not in steps, steps


@pytest.mark.postgres
async def test_what_postgres_text_cannot_hold_is_never_a_database_error(
    postgres_url: str, postgres_schema: str
) -> None:
    store = SQLIssueStore(postgres_url, schema=postgres_schema)
    try:
        nul_secret = "nul\x00in-the-secret-too"
        hook = await store.hooks.create_hook(HookCreate(url=HOOK.url, secret=SecretStr(nul_secret)))
        ping = await store.hooks.queue_ping(hook.id)
        [due] = await store.hooks.due_deliveries()
        assert due.secret == nul_secret
        failed = AttemptResult(
            at=system_clock(), ok=False, status_code=500, duration_ms=1.0, response="a\x00b"
        )
        await store.hooks.record_attempt(ping.id, failed)
        assert (await store.hooks.get_delivery(hook.id, ping.id)).response == "a\ufffdb"
        with pytest.raises(HookNotFound):
            await store.hooks.get_hook("a\x00")
        with pytest.raises(DeliveryNotFound):
            await store.hooks.get_delivery(hook.id, "a\x00")
        with pytest.raises(DeliveryNotFound):
            await store.hooks.redeliver(hook.id, "a\x00")
        with pytest.raises(DeliveryNotFound):
            await store.hooks.record_attempt("a\x00", failed)
    finally:
        await store.aclose()


async def test_the_due_query_reads_indexes_not_the_table(tmp_path: Path) -> None:
    """Finished rows pile up (to the cap, per hook), and pending ones too when writes outrun
    the receivers: what is due is found from the hooks, through each one's range of the
    queue index, never by walking the pending deliveries (the due index)."""
    store = SQLIssueStore(f"sqlite:///{tmp_path / 'issues.db'}")
    await store.create_schema()
    await store.aclose()
    with sqlite3.connect(tmp_path / "issues.db") as conn:
        compiled = _DUE.compile(dialect=sqlite_dialect())
        values = {"now": 0, "limit": 100}
        params = [values.get(name) for name in compiled.positiontup or ()]
        plan = conn.execute(f"EXPLAIN QUERY PLAN {compiled}", params).fetchall()
    steps = " | ".join(str(row[-1]) for row in plan)
    assert "ix_hook_deliveries_queue (hook_id=? AND queued=? AND state=?)" in steps
    assert "ix_hook_deliveries_due" not in steps
    assert "SCAN hook_deliveries" not in steps


async def _plan_of_due(store: SQLIssueStore) -> dict[str, Any]:
    """EXPLAIN ANALYZE (as JSON) of the due read `store.hooks.due_deliveries` sends (on the
    database's direct path: its SQL and arguments as compiled there)."""
    statements = store._db._direct._statements  # type: ignore[union-attr]
    # A read asks for its compiled statement twice: for its SQL, then for its rows.
    sent: dict[str, tuple[Any, ...]] = {}
    get = statements.get

    def capture(statement: Any, params: Any) -> Any:
        compiled = get(statement, params)
        sql, arguments = compiled.arguments(params)
        if "hook_deliveries" in sql and sql.lstrip().upper().startswith("SELECT"):
            sent[sql] = arguments
        return compiled

    statements.get = capture
    try:
        await store.hooks.due_deliveries()
    finally:
        del statements.get
    [(sql, arguments)] = sent.items()
    raw = await store.engine.raw_connection()
    try:
        explain = f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}"
        # SQLAlchemy's connections decode json themselves.
        [plan] = await raw.driver_connection.fetchval(explain, *arguments)
    finally:
        raw.close()
    return dict(plan)


def _nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", ()):
        yield from _nodes(child)


@pytest.mark.postgres
async def test_postgres_reads_each_hooks_head_not_its_backlog(
    postgres_url: str, postgres_schema: str
) -> None:
    """A burst of writes leaves thousands of deliveries queued behind each hook's head: the
    due read finds the heads (and the pings) through each hook's range of the queue index,
    one entry a hook, and never reads the backlog through a scan or a sort of it."""
    store = SQLIssueStore(postgres_url, schema=postgres_schema)
    try:
        await store.create_schema()
        made = [await store.hooks.create_hook(HOOK) for _ in range(3)]
        pings = [await store.hooks.queue_ping(hook.id) for hook in made]
        now = system_clock()
        backlog = [
            {
                "id": f"backlog-{hook.id}-{n}",
                "hook_id": hook.id,
                "event_id": n,
                "event": "issue.created",
                "body": b"{}",
                "queued": True,
                "state": "pending",
                "attempts": 0,
                "created_at": now,
                "next_attempt_at": now - timedelta(seconds=1),
            }
            for hook in made
            for n in range(1, 5_001)
        ]
        async with store.engine.begin() as conn:
            await conn.execute(insert(hook_deliveries), backlog)
        async with store.engine.connect() as conn:
            # The statistics autovacuum gathers after such a burst, at once.
            await conn.exec_driver_sql(f'ANALYZE "{postgres_schema}".hook_deliveries')
        due = await store.hooks.due_deliveries()
        assert {d.id for d in due} == {p.id for p in pings} | {
            f"backlog-{hook.id}-1" for hook in made
        }

        plan = await _plan_of_due(store)
        reads = [n for n in _nodes(plan["Plan"]) if n.get("Relation Name") == "hook_deliveries"]
        assert reads, plan
        for read in reads:
            assert read["Node Type"] in {"Index Scan", "Index Only Scan"}, read
            assert read["Index Name"] == "ix_hook_deliveries_queue", read
            # One loop a hook, each reading its head or its one ping: not the backlog.
            assert read["Actual Rows"] <= 1, read
            assert read["Actual Loops"] <= len(made), read
        for sort in (n for n in _nodes(plan["Plan"]) if n["Node Type"] == "Sort"):
            assert sort["Actual Rows"] <= len(due), sort
    finally:
        await store.aclose()
