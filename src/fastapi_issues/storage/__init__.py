"""Issue stores: the protocol, its errors, and the stores that ship with the package.

`SQLIssueStore` is imported on first use, so this package works without SQLAlchemy.
"""

from typing import TYPE_CHECKING, Any

from fastapi_issues.storage.base import (
    CorruptStoreError,
    IssueExporter,
    IssueImporter,
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

if TYPE_CHECKING:
    from fastapi_issues.storage.sql import SQLIssueStore

__all__ = [
    "CorruptStoreError",
    "InMemoryIssueStore",
    "IssueExporter",
    "IssueImporter",
    "IssueNotFound",
    "IssuePage",
    "IssueQuery",
    "IssueSortField",
    "IssueStore",
    "JSONFileIssueStore",
    "SQLIssueStore",
    "SortDirection",
    "StorageError",
    "VersionConflict",
]


def __getattr__(name: str) -> Any:
    if name == "SQLIssueStore":
        from fastapi_issues.storage.sql import SQLIssueStore

        return SQLIssueStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
