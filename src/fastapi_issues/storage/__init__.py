"""Issue stores: the protocols, their errors, and the stores that ship with the package.

`SQLIssueStore` is imported on first use, so this package works without SQLAlchemy.
"""

from typing import TYPE_CHECKING, Any

from fastapi_issues.storage.errors import (
    CommentNotFound,
    CommentVersionConflict,
    CorruptStoreError,
    DuplicateLabel,
    InvalidIssueChange,
    IssueNotFound,
    LabelNotFound,
    StaleVersion,
    StorageError,
    TooManyLabels,
    VersionConflict,
)
from fastapi_issues.storage.protocols import (
    CommentStore,
    IssueExporter,
    IssueImporter,
    IssueStore,
    LabelStore,
    StoreLifecycle,
    TrackerExporter,
    TrackerImporter,
    TrackerStore,
)
from fastapi_issues.storage.query import (
    ASSIGNEE_ANY,
    ASSIGNEE_NONE,
    CommentPage,
    IssuePage,
    IssueQuery,
    IssueSortField,
    LabelPage,
    SortDirection,
)
from fastapi_issues.storage.records.json_file import JSONFileIssueStore
from fastapi_issues.storage.records.memory import InMemoryIssueStore

if TYPE_CHECKING:
    from fastapi_issues.storage.sql import SQLIssueStore

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
    "IssueExporter",
    "IssueImporter",
    "IssueNotFound",
    "IssuePage",
    "IssueQuery",
    "IssueSortField",
    "IssueStore",
    "JSONFileIssueStore",
    "LabelNotFound",
    "LabelPage",
    "LabelStore",
    "SQLIssueStore",
    "SortDirection",
    "StaleVersion",
    "StorageError",
    "StoreLifecycle",
    "TooManyLabels",
    "TrackerExporter",
    "TrackerImporter",
    "TrackerStore",
    "VersionConflict",
]


def __getattr__(name: str) -> Any:
    if name == "SQLIssueStore":
        from fastapi_issues.storage.sql import SQLIssueStore

        return SQLIssueStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
