"""Issue stores: the protocols, their errors, and the stores that ship with the package."""

from fastapi_issues.storage.base import (
    ASSIGNEE_ANY,
    ASSIGNEE_NONE,
    CorruptStoreError,
    InvalidIssueChange,
    IssueNotFound,
    IssuePage,
    IssueQuery,
    IssueSortField,
    IssueStore,
    SortDirection,
    StorageError,
    VersionConflict,
)
from fastapi_issues.storage.collaboration import (
    CommentNotFound,
    CommentPage,
    CommentStore,
    CommentVersionConflict,
    DuplicateLabel,
    LabelNotFound,
    LabelPage,
    LabelStore,
    TooManyLabels,
    TrackerStore,
)
from fastapi_issues.storage.json_file import JSONFileIssueStore
from fastapi_issues.storage.memory import InMemoryIssueStore

__all__ = [
    "ASSIGNEE_ANY",
    "ASSIGNEE_NONE",
    "CommentNotFound",
    "CommentPage",
    "CommentStore",
    "CommentVersionConflict",
    "CorruptStoreError",
    "DuplicateLabel",
    "InMemoryIssueStore",
    "InvalidIssueChange",
    "IssueNotFound",
    "IssuePage",
    "IssueQuery",
    "IssueSortField",
    "IssueStore",
    "JSONFileIssueStore",
    "LabelNotFound",
    "LabelPage",
    "LabelStore",
    "SortDirection",
    "StorageError",
    "TooManyLabels",
    "TrackerStore",
    "VersionConflict",
]
