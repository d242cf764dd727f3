"""The default store: every issue in one JSON file, in the crash course's format."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Sequence
from datetime import datetime, timezone
from typing import Any

from fastapi_issues.schemas import IssueCreate, IssueOut, IssueUpdate
from fastapi_issues.storage._durable_file import DurableJSONArray
from fastapi_issues.storage._records import (
    IssueIndex,
    add_missing,
    apply_delete,
    apply_update,
    new_issue,
)
from fastapi_issues.storage.base import IssueNotFound, IssuePage, IssueQuery

__all__ = ["JSONFileIssueStore"]


def _decode_issue(item: Any, file_mtime: float) -> IssueOut:
    if not isinstance(item, dict):
        raise TypeError("expected an object")
    if "created_at" not in item or "updated_at" not in item:
        # Written by the crash course, before issues had timestamps: the file's own
        # modification time is the best stand-in there is.
        stamp = datetime.fromtimestamp(file_mtime, timezone.utc).isoformat()
        item = {"created_at": stamp, "updated_at": stamp, **item}
    return IssueOut.model_validate(item)


def _encode_issue(issue: IssueOut) -> str:
    return issue.model_dump_json()


class JSONFileIssueStore:
    """Issues in a JSON array file, served from memory and written durably.

    The file keeps the crash course's format, so an existing `data/issues.json` works as it is.
    Each acknowledged write is on disk (fsynced, atomically renamed into place) before the
    call returns, and concurrent writes, from this process or from other processes on the
    same file, are serialised without losing any. A corrupt file makes the constructor raise
    `CorruptStoreError` naming it; the file is never overwritten.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._file = DurableJSONArray(
            path,
            key=lambda issue: issue.id,
            decode=_decode_issue,
            encode=_encode_issue,
            what="issues",
        )
        self._index = IssueIndex(dict(self._file.records))
        self._indexed = self._file.records

    @property
    def path(self) -> os.PathLike[str]:
        """The JSON file this store reads and writes."""
        return self._file.path

    async def _current(self) -> IssueIndex:
        records = await self._file.fresh_records()
        if records is not self._indexed:
            # Snapshots are never edited once published, so the index can share the dict.
            self._index = IssueIndex(records)  # type: ignore[arg-type]
            self._indexed = records
        return self._index

    async def create(self, data: IssueCreate, *, reporter: str | None = None) -> IssueOut:
        issue = new_issue(data, reporter)

        def add(issues: dict[str, IssueOut]) -> IssueOut:
            issues[issue.id] = issue
            return issue

        return await self._file.write(add)

    async def get(self, issue_id: str) -> IssueOut:
        issue = (await self._current()).issues.get(issue_id)
        if issue is None:
            raise IssueNotFound(issue_id)
        return issue

    async def list(self, query: IssueQuery) -> IssuePage:
        return (await self._current()).select(query)

    async def update(
        self, issue_id: str, changes: IssueUpdate, *, expected_version: int | None = None
    ) -> IssueOut:
        return await self._file.write(
            lambda issues: apply_update(issues, issue_id, changes, expected_version)
        )

    async def delete(self, issue_id: str, *, expected_version: int | None = None) -> None:
        await self._file.write(lambda issues: apply_delete(issues, issue_id, expected_version))

    async def import_issues(self, issues: Sequence[IssueOut]) -> int:
        """Add issues as they are, skipping ids already here; see `IssueImporter`."""
        batch = list(issues)
        return await self._file.write(lambda records: add_missing(records, batch))

    async def export_issues(self) -> AsyncIterator[IssueOut]:
        """Every issue, in creation order; see `IssueExporter`."""
        for issue in list((await self._current()).issues.values()):
            yield issue

    def close(self) -> None:
        """Release the lock file's descriptor."""
        self._file.close()
