"""An issue store that lives in the process's memory: for tests and throwaway demos."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from fastapi_issues.schemas import IssueCreate, IssueOut, IssueUpdate
from fastapi_issues.storage._records import (
    IssueIndex,
    add_missing,
    apply_delete,
    apply_update,
    new_issue,
)
from fastapi_issues.storage.base import IssueNotFound, IssuePage, IssueQuery

__all__ = ["InMemoryIssueStore"]


class InMemoryIssueStore:
    """Keeps issues in a dict. Nothing survives the process; every method is atomic
    because none of them awaits while it changes the data."""

    def __init__(self) -> None:
        self._index = IssueIndex()

    async def create(self, data: IssueCreate, *, reporter: str | None = None) -> IssueOut:
        issue = new_issue(data, reporter)
        self._index.issues[issue.id] = issue
        self._index.changed()
        return issue

    async def get(self, issue_id: str) -> IssueOut:
        issue = self._index.issues.get(issue_id)
        if issue is None:
            raise IssueNotFound(issue_id)
        return issue

    async def list(self, query: IssueQuery) -> IssuePage:
        return self._index.select(query)

    async def update(
        self, issue_id: str, changes: IssueUpdate, *, expected_version: int | None = None
    ) -> IssueOut:
        before = self._index.issues.get(issue_id)
        issue = apply_update(self._index.issues, issue_id, changes, expected_version)
        if issue is not before:
            self._index.changed()
        return issue

    async def delete(self, issue_id: str, *, expected_version: int | None = None) -> None:
        apply_delete(self._index.issues, issue_id, expected_version)
        self._index.changed()

    async def import_issues(self, issues: Sequence[IssueOut]) -> int:
        """Add issues as they are, skipping ids already here; see `IssueImporter`."""
        added = add_missing(self._index.issues, issues)
        if added:
            self._index.changed()
        return added

    async def export_issues(self) -> AsyncIterator[IssueOut]:
        """Every issue, in creation order; see `IssueExporter`."""
        for issue in list(self._index.issues.values()):
            yield issue
