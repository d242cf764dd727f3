"""What the routers answer when a store refuses or fails."""

from __future__ import annotations

import logging

from fastapi import HTTPException, status

from fastapi_issues.storage.errors import StorageError

__all__ = [
    "COMMENT_CHANGED",
    "COMMENT_NOT_FOUND",
    "ISSUE_CHANGED",
    "LABEL_NOT_FOUND",
    "NOT_FOUND",
    "precondition_failed",
    "unavailable",
]

_log = logging.getLogger("fastapi_issues")

NOT_FOUND = "Issue not found"
LABEL_NOT_FOUND = "Label not found"
COMMENT_NOT_FOUND = "Comment not found"
ISSUE_CHANGED = "The issue has changed since the version in If-Match; fetch it again and retry"
COMMENT_CHANGED = "The comment has changed since the version in If-Match; fetch it again and retry"


def precondition_failed(changed: str = ISSUE_CHANGED) -> HTTPException:
    """412: the issue (or comment) is no longer at the version `If-Match` named."""
    return HTTPException(status.HTTP_412_PRECONDITION_FAILED, changed)


def unavailable(exc: StorageError) -> HTTPException:
    """503 for a store that failed; the cause is logged."""
    # The cause (a path, a driver message) goes to the log, not to the client.
    _log.error("issue store failed: %s", exc)
    return HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "Issue store unavailable")
