"""Storage protocols for labels and comments, kept apart from the small core `IssueStore`.

A store that implements them extends `IssueStore`: labels and comments belong to issues.
Every store that ships with the package implements both.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from fastapi_issues.schemas import (
    CommentCreate,
    CommentOut,
    CommentUpdate,
    IssueOut,
    LabelCreate,
    LabelOut,
    LabelUpdate,
)
from fastapi_issues.storage.base import IssueStore, StorageError, VersionConflict

__all__ = [
    "CommentNotFound",
    "CommentPage",
    "CommentStore",
    "CommentVersionConflict",
    "DuplicateLabel",
    "LabelNotFound",
    "LabelPage",
    "LabelStore",
    "TooManyLabels",
    "TrackerExporter",
    "TrackerImporter",
    "TrackerStore",
]


class LabelNotFound(StorageError):
    """No label has one of the given names."""

    def __init__(self, names: Sequence[str]) -> None:
        listed = ", ".join(repr(name) for name in names)
        super().__init__(f"no label named {listed}")
        self.names = tuple(names)


class DuplicateLabel(StorageError):
    """Another label already has this name, ignoring case."""

    def __init__(self, name: str) -> None:
        super().__init__(f"a label named {name!r} already exists")
        self.name = name


class TooManyLabels(StorageError):
    """The change would leave the issue with more labels than allowed."""

    def __init__(self, issue_id: str, limit: int) -> None:
        super().__init__(f"issue {issue_id!r} would carry more than {limit} labels")
        self.issue_id = issue_id
        self.limit = limit


class CommentNotFound(StorageError):
    """The issue has no comment with the given id."""

    def __init__(self, comment_id: str) -> None:
        super().__init__(f"no comment with id {comment_id!r}")
        self.comment_id = comment_id


class CommentVersionConflict(VersionConflict):
    """The comment changed since the version the caller expected."""

    def __init__(self, comment_id: str, expected: int, actual: int) -> None:
        StorageError.__init__(
            self, f"comment {comment_id!r} is at version {actual}, not {expected}"
        )
        self.issue_id = comment_id
        self.comment_id = comment_id
        self.expected = expected
        self.actual = actual


@dataclass(frozen=True)
class LabelPage:
    """One page of labels, ordered by name ignoring case, and how many there are in all."""

    items: Sequence[LabelOut]
    total: int


@dataclass(frozen=True)
class CommentPage:
    """One page of an issue's comments, oldest first, and how many match in all."""

    items: Sequence[CommentOut]
    total: int


@runtime_checkable
class LabelStore(IssueStore, Protocol):
    """Labels, and which issues carry them.

    Names are unique ignoring case and keep the case they were given. Issue label changes are
    atomic in the store (no lost update under concurrent edits), bump the issue's version and
    `updated_at` when they change anything, and honour `expected_version` as `update` does.
    Renaming or deleting a label changes the issues that carry it without bumping their
    versions: the label changed, not the issues.
    """

    async def create_label(self, data: LabelCreate) -> LabelOut:
        """Store a new label; raise `DuplicateLabel` if the name is taken."""
        ...

    async def get_label(self, name: str) -> LabelOut:
        """The label with this name, ignoring case; raise `LabelNotFound` when none."""
        ...

    async def list_labels(self, *, offset: int = 0, limit: int = 100) -> LabelPage:
        """A page of labels ordered by name, ignoring case."""
        ...

    async def update_label(self, name: str, changes: LabelUpdate) -> LabelOut:
        """Change a label; raise `LabelNotFound`, or `DuplicateLabel` for a taken new name."""
        ...

    async def delete_label(self, name: str) -> None:
        """Delete a label and take it off every issue; raise `LabelNotFound` when none."""
        ...

    async def set_issue_labels(
        self, issue_id: str, names: Sequence[str], *, expected_version: int | None = None
    ) -> IssueOut:
        """Make `names` the issue's labels.

        Raise `IssueNotFound`, `LabelNotFound` (naming every unknown name), `TooManyLabels`
        or `VersionConflict`; nothing changes when any is raised.
        """
        ...

    async def add_issue_labels(
        self, issue_id: str, names: Sequence[str], *, expected_version: int | None = None
    ) -> IssueOut:
        """Add labels to the issue's; the same errors as `set_issue_labels`."""
        ...

    async def remove_issue_labels(
        self, issue_id: str, names: Sequence[str], *, expected_version: int | None = None
    ) -> IssueOut:
        """Take labels off the issue; names it does not carry are ignored, names no label
        has raise `LabelNotFound`."""
        ...


@runtime_checkable
class CommentStore(IssueStore, Protocol):
    """Comments on issues, oldest first. Deleting an issue deletes its comments, and every
    issue the store returns has its `comment_count`."""

    async def list_comments(
        self,
        issue_id: str,
        *,
        offset: int = 0,
        limit: int = 20,
        since: datetime | None = None,
    ) -> CommentPage:
        """A page of the issue's comments, optionally only those updated at or after
        `since`; raise `IssueNotFound` when there is no such issue."""
        ...

    async def create_comment(
        self, issue_id: str, data: CommentCreate, *, author: str | None = None
    ) -> CommentOut:
        """Add a comment at version 1; raise `IssueNotFound` when there is no such issue."""
        ...

    async def get_comment(self, issue_id: str, comment_id: str) -> CommentOut:
        """One comment of the issue; raise `IssueNotFound` or `CommentNotFound`."""
        ...

    async def update_comment(
        self,
        issue_id: str,
        comment_id: str,
        changes: CommentUpdate,
        *,
        expected_version: int | None = None,
    ) -> CommentOut:
        """Change a comment's body; raise `IssueNotFound`, `CommentNotFound` or
        `CommentVersionConflict`. An edit that changes nothing keeps the version."""
        ...

    async def delete_comment(
        self, issue_id: str, comment_id: str, *, expected_version: int | None = None
    ) -> None:
        """Delete a comment; the same errors as `update_comment`."""
        ...


@runtime_checkable
class TrackerStore(LabelStore, CommentStore, Protocol):
    """A store with issues, labels and comments: what every shipped store is."""


@runtime_checkable
class TrackerImporter(Protocol):
    """A store that takes labels and comments as they are, for copying them from another
    store. Copy labels first, then issues (`IssueImporter`), then comments."""

    async def import_labels(self, labels: Sequence[LabelOut]) -> int:
        """Add labels keeping their ids, skipping any whose id or name (ignoring case) is
        taken. Returns how many were added."""
        ...

    async def import_comments(self, comments: Sequence[CommentOut]) -> int:
        """Add comments in their order, keeping ids, times, author and version, skipping ids
        already here and comments of issues that are not. Returns how many were added."""
        ...


@runtime_checkable
class TrackerExporter(Protocol):
    """A store that can hand out every label and comment it holds."""

    def export_labels(self) -> AsyncIterator[LabelOut]:
        """Every label."""
        ...

    def export_comments(self) -> AsyncIterator[CommentOut]:
        """Every comment, each issue's in creation order."""
        ...
