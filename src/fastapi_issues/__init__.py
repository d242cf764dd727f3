"""A production-grade issue tracker API that mounts into any FastAPI app."""

from fastapi_issues.policies import ReporterOrAdmin
from fastapi_issues.router import IssueAction, IssueOperation, IssuePolicy, make_issue_router
from fastapi_issues.schemas import IssueCreate, IssueOut, IssuePriority, IssueStatus, IssueUpdate
from fastapi_issues.storage import (
    CorruptStoreError,
    InMemoryIssueStore,
    IssueNotFound,
    IssuePage,
    IssueQuery,
    IssueStore,
    JSONFileIssueStore,
    StorageError,
    VersionConflict,
)

__version__ = "0.1.0"

__all__ = [
    "CorruptStoreError",
    "InMemoryIssueStore",
    "IssueAction",
    "IssueCreate",
    "IssueNotFound",
    "IssueOperation",
    "IssueOut",
    "IssuePage",
    "IssuePolicy",
    "IssuePriority",
    "IssueQuery",
    "IssueStatus",
    "IssueStore",
    "IssueUpdate",
    "JSONFileIssueStore",
    "ReporterOrAdmin",
    "StorageError",
    "VersionConflict",
    "__version__",
    "make_issue_router",
]
