"""A production-grade issue tracker API that mounts into any FastAPI app."""

from typing import TYPE_CHECKING, Any

from fastapi_issues.routers._kernel import DEFAULT_MAX_BODY_SIZE
from fastapi_issues.routers.comments import (
    CommentAction,
    CommentOperation,
    CommentPolicy,
    author_only,
    make_comment_router,
)
from fastapi_issues.routers.events import EventOperation, LiveLimits, make_event_router
from fastapi_issues.routers.hooks import (
    HookAction,
    HookOperation,
    HookPolicy,
    make_webhook_router,
)
from fastapi_issues.routers.issues import (
    IssueAction,
    IssueOperation,
    IssuePolicy,
    UserCheck,
    make_issue_router,
)
from fastapi_issues.routers.labels import (
    LabelAction,
    LabelOperation,
    LabelPolicy,
    make_label_router,
)
from fastapi_issues.routers.policies import AdminsOnly, ReporterOrAdmin
from fastapi_issues.schemas import (
    CommentCreate,
    CommentOut,
    CommentUpdate,
    IssueCreate,
    IssueLabels,
    IssueOut,
    IssuePriority,
    IssueStatus,
    IssueUpdate,
    LabelCreate,
    LabelOut,
    LabelUpdate,
    StateReason,
)
from fastapi_issues.storage import (
    CommentStore,
    CorruptStoreError,
    InMemoryIssueStore,
    IssueNotFound,
    IssuePage,
    IssueQuery,
    IssueStore,
    JSONFileIssueStore,
    LabelStore,
    StorageError,
    TrackerStore,
    VersionConflict,
)
from fastapi_issues.storage.urls import open_issue_store

if TYPE_CHECKING:
    from fastapi_issues.auth.urls import open_user_store
    from fastapi_issues.webhooks import DeliveryWorker

__version__ = "0.2.0"

__all__ = [
    "DEFAULT_MAX_BODY_SIZE",
    "AdminsOnly",
    "CommentAction",
    "CommentCreate",
    "CommentOperation",
    "CommentOut",
    "CommentPolicy",
    "CommentStore",
    "CommentUpdate",
    "CorruptStoreError",
    "DeliveryWorker",
    "EventOperation",
    "HookAction",
    "HookOperation",
    "HookPolicy",
    "InMemoryIssueStore",
    "IssueAction",
    "IssueCreate",
    "IssueLabels",
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
    "LabelAction",
    "LabelCreate",
    "LabelOperation",
    "LabelOut",
    "LabelPolicy",
    "LabelStore",
    "LabelUpdate",
    "LiveLimits",
    "ReporterOrAdmin",
    "StateReason",
    "StorageError",
    "TrackerStore",
    "UserCheck",
    "VersionConflict",
    "__version__",
    "author_only",
    "make_comment_router",
    "make_event_router",
    "make_issue_router",
    "make_label_router",
    "make_webhook_router",
    "open_issue_store",
    "open_user_store",
]


def __getattr__(name: str) -> Any:
    # Imported on first use: the auth and webhooks extras are optional, and without them
    # these imports say what to install.
    if name == "open_user_store":
        from fastapi_issues.auth.urls import open_user_store

        return open_user_store
    if name == "DeliveryWorker":
        from fastapi_issues.webhooks import DeliveryWorker

        return DeliveryWorker
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
