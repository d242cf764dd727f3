"""Copy every issue from one store to another: JSON file to SQLite, SQLite to PostgreSQL, ..."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from fastapi_issues.schemas import IssueOut
from fastapi_issues.storage.base import IssueExporter, IssueImporter, IssueQuery, IssueStore
from fastapi_issues.storage.urls import (
    close_store,
    is_sql_url,
    open_issue_store,
    prepare_store,
    sqlite_path,
)

__all__ = ["MigrationReport", "migrate", "migrate_stores"]

DEFAULT_BATCH_SIZE = 500


@dataclass(frozen=True)
class MigrationReport:
    """What a migration did: how many records it copied and how many the target had already."""

    issues_copied: int = 0
    issues_already_present: int = 0


async def migrate(
    from_url: str, to_url: str, *, batch_size: int = DEFAULT_BATCH_SIZE
) -> MigrationReport:
    """Copy every issue from the store at `from_url` to the store at `to_url`.

    URLs are those of `open_issue_store`. Issues keep their ids, times, reporter, version and
    creation order. Issues whose id the target already has are left alone, so running it
    again copies nothing twice. Raises `ValueError` when the source does not exist.
    """
    _check_source_exists(from_url)
    source = open_issue_store(from_url)
    try:
        target = open_issue_store(to_url)
        try:
            return await migrate_stores(source, target, batch_size=batch_size)
        finally:
            await close_store(target)
    finally:
        await close_store(source)


async def migrate_stores(
    source: IssueStore, target: IssueStore, *, batch_size: int = DEFAULT_BATCH_SIZE
) -> MigrationReport:
    """Copy every issue from `source` to `target`, both open stores; see `migrate`.

    `target` must implement `IssueImporter`. A `source` that is no `IssueExporter` is read
    page by page in `created_at` order.
    """
    if not isinstance(target, IssueImporter):
        raise TypeError(f"{type(target).__name__} cannot import issues (no import_issues)")
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    await prepare_store(source)
    await prepare_store(target)
    seen = copied = 0
    batch: list[IssueOut] = []
    async for issue in _every_issue(source, batch_size):
        batch.append(issue)
        if len(batch) == batch_size:
            copied += await target.import_issues(batch)
            seen += len(batch)
            batch = []
    if batch:
        copied += await target.import_issues(batch)
        seen += len(batch)
    return MigrationReport(issues_copied=copied, issues_already_present=seen - copied)


async def _every_issue(source: IssueStore, batch_size: int) -> AsyncIterator[IssueOut]:
    if isinstance(source, IssueExporter):
        async for issue in source.export_issues():
            yield issue
        return
    offset = 0
    while True:
        page = await source.list(IssueQuery(offset=offset, limit=batch_size))
        for issue in page.items:
            yield issue
        if len(page.items) < batch_size:
            return
        offset += batch_size


def _check_source_exists(url: str) -> None:
    # Opening a missing file or SQLite database would create an empty one and copy nothing.
    if url == "memory://":
        raise ValueError("memory:// holds nothing to migrate from")
    if is_sql_url(url):
        path = sqlite_path(url)
        if path is None:
            return
    else:
        path = url.removeprefix("json://")
    if not path or not Path(path).is_file():
        raise ValueError(f"nothing to migrate from: {path or url!r} does not exist")
