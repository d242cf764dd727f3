"""The storage protocol every issue store implements, and the errors stores raise."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol, runtime_checkable

from fastapi_issues.schemas import IssueCreate, IssueOut, IssuePriority, IssueStatus, IssueUpdate

__all__ = [
    "CorruptStoreError",
    "IssueExporter",
    "IssueImporter",
    "IssueNotFound",
    "IssuePage",
    "IssueQuery",
    "IssueSortField",
    "IssueStore",
    "SortDirection",
    "StorageError",
    "VersionConflict",
]

IssueSortField = Literal["created_at", "updated_at", "priority", "title"]
SortDirection = Literal["asc", "desc"]


class StorageError(Exception):
    """Base class of every error a store raises on purpose."""


class IssueNotFound(StorageError):
    """No issue has the given id."""

    def __init__(self, issue_id: str) -> None:
        super().__init__(f"no issue with id {issue_id!r}")
        self.issue_id = issue_id


class VersionConflict(StorageError):
    """The issue changed since the version the caller expected."""

    def __init__(self, issue_id: str, expected: int, actual: int) -> None:
        super().__init__(f"issue {issue_id!r} is at version {actual}, not {expected}")
        self.issue_id = issue_id
        self.expected = expected
        self.actual = actual


class CorruptStoreError(StorageError):
    """The stored data cannot be read; the store refuses to touch it."""


@dataclass(frozen=True)
class IssueQuery:
    """Which issues a list call returns, in what order, and which slice of them.

    Filters combine with AND; the values inside `status` or `priority` combine with OR.
    Ties in the sort order are broken by creation order, so pages never overlap.
    """

    offset: int = 0
    limit: int = 20
    status: Sequence[IssueStatus] = ()
    priority: Sequence[IssuePriority] = ()
    reporter: str | None = None
    text: str | None = None
    """Case-insensitive substring of the title or the description."""
    created_since: datetime | None = None
    updated_since: datetime | None = None
    sort: IssueSortField = "created_at"
    direction: SortDirection = "asc"


@dataclass(frozen=True)
class IssuePage:
    """One page of a list call: the issues on it and how many match in all."""

    items: Sequence[IssueOut]
    total: int


@runtime_checkable
class IssueStore(Protocol):
    """Where issues live. Every method is async; stores know nothing about HTTP.

    Implement these five methods, run `fastapi_issues.testing` against your class, and the
    router works on your store.
    """

    async def create(self, data: IssueCreate, *, reporter: str | None = None) -> IssueOut:
        """Store a new `open` issue at version 1 and return it."""
        ...

    async def get(self, issue_id: str) -> IssueOut:
        """Return one issue; raise `IssueNotFound` when there is none."""
        ...

    async def list(self, query: IssueQuery) -> IssuePage:
        """Return the page of issues that `query` selects, and the total that match."""
        ...

    async def update(
        self, issue_id: str, changes: IssueUpdate, *, expected_version: int | None = None
    ) -> IssueOut:
        """Apply the fields set in `changes` and return the result.

        A change that alters nothing returns the issue as it is, version unchanged.
        With `expected_version`, raise `VersionConflict` unless the stored version matches;
        the check and the write are one atomic step.
        """
        ...

    async def delete(self, issue_id: str, *, expected_version: int | None = None) -> None:
        """Remove an issue; raise `IssueNotFound` or `VersionConflict` as `update` does."""
        ...


@runtime_checkable
class IssueImporter(Protocol):
    """A store that takes issues as they are, for copying them from another store.

    Separate from `IssueStore`: a store need not offer it to serve the API.
    """

    async def import_issues(self, issues: Sequence[IssueOut]) -> int:
        """Add `issues` in their order, after those already stored, keeping their ids, times,
        reporter and version. Ids already present are skipped, never overwritten.

        Returns how many were added.
        """
        ...


@runtime_checkable
class IssueExporter(Protocol):
    """A store that can hand out every issue it holds, for copying them to another store."""

    def export_issues(self) -> AsyncIterator[IssueOut]:
        """Every issue, in creation order."""
        ...
