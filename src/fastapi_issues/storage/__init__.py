"""Issue stores: the protocol, its errors, and the stores that ship with the package."""

from fastapi_issues.storage.base import (
    CorruptStoreError,
    IssueNotFound,
    IssuePage,
    IssueQuery,
    IssueSortField,
    IssueStore,
    SortDirection,
    StorageError,
    VersionConflict,
)
from fastapi_issues.storage.json_file import JSONFileIssueStore
from fastapi_issues.storage.memory import InMemoryIssueStore

__all__ = [
    "CorruptStoreError",
    "InMemoryIssueStore",
    "IssueNotFound",
    "IssuePage",
    "IssueQuery",
    "IssueSortField",
    "IssueStore",
    "JSONFileIssueStore",
    "SortDirection",
    "StorageError",
    "VersionConflict",
]
