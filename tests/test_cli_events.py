"""`fastapi-issues events prune --before DATE`: the event log's retention."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fastapi_issues import IssueCreate, IssueUpdate
from fastapi_issues.cli import main
from fastapi_issues.storage import JSONFileIssueStore
from fastapi_issues.storage.query import EventQuery
from fastapi_issues.storage.sql import SQLIssueStore
from fastapi_issues.storage.urls import close_store, open_issue_store, prepare_store

START = datetime(2026, 1, 1, tzinfo=UTC)


class DayClock:
    """A clock a day later on every read: each write lands on its own day."""

    def __init__(self) -> None:
        self._days = iter(range(10_000))

    def __call__(self) -> datetime:
        return START + timedelta(days=next(self._days))


async def _write_three_days(store: JSONFileIssueStore | SQLIssueStore) -> None:
    await prepare_store(store)
    issue = await store.create(IssueCreate(title="Crash", description="On start"))
    await store.update(issue.id, IssueUpdate(title="Crash on start"))
    await store.update(issue.id, IssueUpdate(status="closed"))
    await close_store(store)


async def _event_days(url: str) -> list[int]:
    store = open_issue_store(url)
    try:
        await prepare_store(store)
        events = await store.list_events(EventQuery(limit=100))  # type: ignore[attr-defined]
        return [(event.created_at - START).days for event in events]
    finally:
        await close_store(store)


@pytest.fixture(params=["json", "sqlite"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "json":
        path = tmp_path / "issues.json"
        asyncio.run(_write_three_days(JSONFileIssueStore(path, clock=DayClock())))
        yield str(path)
    else:
        url = f"sqlite:///{tmp_path / 'issues.db'}"
        store = SQLIssueStore(f"sqlite+aiosqlite:///{tmp_path / 'issues.db'}", clock=DayClock())
        asyncio.run(_write_three_days(store))
        yield url


def test_prune_deletes_the_events_made_before_the_date(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert asyncio.run(_event_days(url)) == [0, 1, 2]
    assert main(["events", "prune", "--before", "2026-01-02", "--storage-url", url]) == 0
    out = capsys.readouterr().out
    assert out == "pruned 1 event made before 2026-01-02T00:00:00+00:00\n"
    assert asyncio.run(_event_days(url)) == [1, 2]


def test_a_time_with_an_offset_is_taken_as_given(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # 2026-01-03T00:30+01:00 is 2026-01-02T23:30Z: after day 0 and day 1 only.
    assert (
        main(["events", "prune", "--before", "2026-01-03T00:30+01:00", "--storage-url", url]) == 0
    )
    assert "pruned 2 events" in capsys.readouterr().out
    assert asyncio.run(_event_days(url)) == [2]


def test_pruning_again_finds_nothing(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["events", "prune", "--before", "2027-01-01", "--storage-url", url]) == 0
    assert main(["events", "prune", "--before", "2027-01-01", "--storage-url", url]) == 0
    assert capsys.readouterr().out.splitlines()[1].startswith("pruned 0 events")
    assert asyncio.run(_event_days(url)) == []


def test_a_date_that_is_no_date_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["events", "prune", "--before", "last tuesday"]) == 2
    err = capsys.readouterr().err
    assert "'last tuesday' is not an ISO 8601 date or time (e.g. 2026-01-31)" in err


def test_the_date_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["events", "prune"]) == 2
    assert "--before" in capsys.readouterr().err
