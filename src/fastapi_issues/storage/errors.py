"""The errors stores raise on purpose: every one is a `StorageError`.

    StorageError
    ├── CorruptStoreError
    ├── IssueNotFound
    ├── LabelNotFound
    ├── CommentNotFound
    ├── HookNotFound
    ├── DeliveryNotFound
    ├── StaleVersion
    │   ├── VersionConflict
    │   └── CommentVersionConflict
    ├── InvalidIssueChange
    ├── DuplicateLabel
    └── TooManyLabels

The auth user stores add `UserNotFound` (and its `AmbiguousUsername`), `UserExists` and
`UserStoreNotFound` under `StorageError`, in `fastapi_issues.auth.users`. What the routers
answer for each is in one table, `fastapi_issues.routers._errors`.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "CommentNotFound",
    "CommentVersionConflict",
    "CorruptStoreError",
    "DeliveryNotFound",
    "DuplicateLabel",
    "HookNotFound",
    "InvalidIssueChange",
    "IssueNotFound",
    "LabelNotFound",
    "StaleVersion",
    "StorageError",
    "TooManyLabels",
    "VersionConflict",
]


class StorageError(Exception):
    """Base class of every error a store raises on purpose."""


class CorruptStoreError(StorageError):
    """The stored data cannot be read; the store refuses to touch it."""


class IssueNotFound(StorageError):
    """No issue has the given id."""

    def __init__(self, issue_id: str) -> None:
        super().__init__(f"no issue with id {issue_id!r}")
        self.issue_id = issue_id


class LabelNotFound(StorageError):
    """No label has one of the given names."""

    def __init__(self, names: Sequence[str]) -> None:
        listed = ", ".join(repr(name) for name in names)
        super().__init__(f"no label named {listed}")
        self.names = tuple(names)


class CommentNotFound(StorageError):
    """The issue has no comment with the given id."""

    def __init__(self, comment_id: str) -> None:
        super().__init__(f"no comment with id {comment_id!r}")
        self.comment_id = comment_id


class StaleVersion(StorageError):
    """A write expected a version the record is no longer at: catch this for either kind.

    `expected` is the version the caller named, `actual` the one stored.
    """

    def __init__(self, message: str, expected: int, actual: int) -> None:
        super().__init__(message)
        self.expected = expected
        self.actual = actual


class VersionConflict(StaleVersion):
    """The issue changed since the version the caller expected."""

    def __init__(self, issue_id: str, expected: int, actual: int) -> None:
        super().__init__(
            f"issue {issue_id!r} is at version {actual}, not {expected}", expected, actual
        )
        self.issue_id = issue_id


class CommentVersionConflict(StaleVersion):
    """The comment changed since the version the caller expected."""

    def __init__(self, comment_id: str, expected: int, actual: int) -> None:
        super().__init__(
            f"comment {comment_id!r} is at version {actual}, not {expected}", expected, actual
        )
        self.comment_id = comment_id


class InvalidIssueChange(StorageError):
    """The change does not fit the issue as it stands, e.g. a close reason on an open issue."""

    def __init__(self, issue_id: str, field: str, reason: str) -> None:
        super().__init__(f"issue {issue_id!r}: {reason}")
        self.issue_id = issue_id
        self.field = field
        self.reason = reason


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


class HookNotFound(StorageError):
    """No webhook has the given id."""

    def __init__(self, hook_id: str) -> None:
        super().__init__(f"no hook with id {hook_id!r}")
        self.hook_id = hook_id


class DeliveryNotFound(StorageError):
    """The hook has no delivery with the given id."""

    def __init__(self, delivery_id: str) -> None:
        super().__init__(f"no delivery with id {delivery_id!r}")
        self.delivery_id = delivery_id
