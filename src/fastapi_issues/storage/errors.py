"""The errors stores raise on purpose: every one is a `StorageError`."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "CommentNotFound",
    "CommentVersionConflict",
    "CorruptStoreError",
    "DuplicateLabel",
    "InvalidIssueChange",
    "IssueNotFound",
    "LabelNotFound",
    "StorageError",
    "TooManyLabels",
    "VersionConflict",
]


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


class InvalidIssueChange(StorageError):
    """The change does not fit the issue as it stands, e.g. a close reason on an open issue."""

    def __init__(self, issue_id: str, field: str, reason: str) -> None:
        super().__init__(f"issue {issue_id!r}: {reason}")
        self.issue_id = issue_id
        self.field = field
        self.reason = reason


class CorruptStoreError(StorageError):
    """The stored data cannot be read; the store refuses to touch it."""


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
