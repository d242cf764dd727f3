"""On 100,000 SQLite issues, every filtered and sorted list is answered from an index."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from fastapi_issues import IssuePriority, IssueQuery, IssueStatus
from fastapi_issues.storage.sql import SQLIssueStore
from fastapi_issues.storage.sql._direct import _Compiled
from fastapi_issues.storage.sql._schema import PRIORITY_RANK, issues

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

ROWS = 100_000
T0 = datetime(2024, 1, 1, tzinfo=UTC)
D0 = date(2024, 1, 1)
STATUSES = [status.value for status in IssueStatus]
PRIORITIES = [priority.value for priority in IssuePriority]

QUERIES = {
    "open, newest first": IssueQuery(status=[IssueStatus.open], direction="desc"),
    "open, oldest first": IssueQuery(status=[IssueStatus.open]),
    "high, by priority": IssueQuery(priority=[IssuePriority.high], sort="priority"),
    "open or in progress, high, by title": IssueQuery(
        status=[IssueStatus.open, IssueStatus.in_progress],
        priority=[IssuePriority.high],
        sort="title",
    ),
    "one reporter, recently updated": IssueQuery(
        reporter="user7", sort="updated_at", direction="desc"
    ),
    "closed and mentioning a word": IssueQuery(status=[IssueStatus.closed], text="number 99"),
    "created in the last hour": IssueQuery(
        created_since=T0 + timedelta(seconds=ROWS - 3600), direction="desc"
    ),
    "everything by priority, deep page": IssueQuery(
        sort="priority", direction="desc", offset=60_000
    ),
    "everything by title, deep page": IssueQuery(sort="title", offset=50_000),
    "due in a week, soonest first": IssueQuery(
        due_after=D0 + timedelta(days=100), due_before=D0 + timedelta(days=107), sort="due_date"
    ),
    "everything by due date, latest first, deep page": IssueQuery(
        sort="due_date", direction="desc", offset=49_990
    ),
}


def rows() -> list[dict[str, Any]]:
    made = []
    for n in range(ROWS):
        priority = PRIORITIES[(n // 3) % 3]
        made.append(
            {
                "id": str(uuid.UUID(int=n + 1)),
                "title": f"Issue number {n}",
                "description": "Generated for the query plan test",
                "priority": priority,
                "priority_rank": PRIORITY_RANK[priority],
                "status": STATUSES[n % 3],
                "created_at": T0 + timedelta(seconds=n),
                "updated_at": T0 + timedelta(seconds=n + (n * 7919) % 86_400),
                "reporter": f"user{n % 100}",
                "version": 1,
                # Half the issues are due, on one of 1000 days.
                "due_date": D0 + timedelta(days=(n * 7919) % 1000) if n % 2 else None,
            }
        )
    return made


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
async def big_store(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[SQLIssueStore]:
    path: Path = tmp_path_factory.mktemp("plans") / "issues.db"
    store = SQLIssueStore(f"sqlite:///{path}")
    await store.create_schema()
    async with store.engine.begin() as conn:
        await conn.execute(issues.insert(), rows())
        await conn.exec_driver_sql("ANALYZE")
    yield store
    await store.aclose()


async def plan_of_list(store: SQLIssueStore, query: IssueQuery) -> tuple[list[str], float]:
    """The plan of every SELECT that `store.list(query)` runs, and how long the call took
    once its statements were compiled."""
    await store.list(query)
    sent: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            sent.append((statement, parameters))

    # Reads on SQLite skip the engine (see `storage.sql._direct`); their SQL is caught where it is
    # made, and anything that still goes through the engine by its events.
    arguments = _Compiled.arguments

    def capture_direct(self: _Compiled, params: Any) -> tuple[str, tuple[Any, ...]]:
        statement, values = arguments(self, params)
        capture(None, None, statement, values)
        return statement, values

    event.listen(store.engine.sync_engine, "before_cursor_execute", capture)
    _Compiled.arguments = capture_direct  # type: ignore[method-assign]
    try:
        started = time.perf_counter()
        page = await store.list(query)
        elapsed = time.perf_counter() - started
    finally:
        _Compiled.arguments = arguments  # type: ignore[method-assign]
        event.remove(store.engine.sync_engine, "before_cursor_execute", capture)
    assert sent, "list ran no query"
    assert page.total > 0
    plan = []
    async with store.engine.connect() as conn:
        for statement, parameters in sent:
            result = await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
            plan += [str(row[-1]) for row in result]
    return plan, elapsed


@pytest.mark.parametrize("name", list(QUERIES))
async def test_list_queries_use_an_index(
    big_store: SQLIssueStore, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    plan, elapsed = await plan_of_list(big_store, QUERIES[name])
    with capsys.disabled():
        print(f"\n{name}: {elapsed * 1000:.1f} ms\n  " + "\n  ".join(plan))
    # "SCAN issues" alone is a read of the whole table; with "USING INDEX" it is a walk
    # along an index in the order asked for, stopped once the page is full.
    table_steps = [step for step in plan if " issues" in step]
    assert table_steps
    for step in table_steps:
        assert step.startswith("SEARCH") or "USING" in step, f"full table scan: {step}"


async def test_the_answers_on_100k_rows_are_right(big_store: SQLIssueStore) -> None:
    page = await big_store.list(QUERIES["open, newest first"])
    assert page.total == ROWS // 3 + 1
    assert [i.title for i in page.items[:2]] == [f"Issue number {ROWS - 1}", "Issue number 99996"]
    by_priority = await big_store.list(QUERIES["everything by priority, deep page"])
    assert by_priority.total == ROWS
    ranks = [PRIORITY_RANK[i.priority.value] for i in by_priority.items]
    assert ranks == sorted(ranks, reverse=True)
    by_due = await big_store.list(QUERIES["everything by due date, latest first, deep page"])
    assert by_due.total == ROWS
    assert by_due.items[0].due_date is not None
    assert by_due.items[-1].due_date is None  # past the 50,000 due ones
    due = [i.due_date for i in by_due.items if i.due_date is not None]
    assert due == sorted(due, reverse=True)
    mentioned = await big_store.list(QUERIES["closed and mentioning a word"])
    assert all("number 99" in i.title and i.status is IssueStatus.closed for i in mentioned.items)
