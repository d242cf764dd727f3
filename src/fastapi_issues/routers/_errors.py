"""What the routers answer when a store refuses or fails: one table, applied by the kernel.

Each row is an error type, the status it gets and the detail sent. The kernel wraps every
endpoint so that a `StorageError` it lets through is answered by the first row that fits
(`ErrorTable.http_error`); endpoints catch none themselves. A row may be limited to some
operations, as `LabelNotFound` is a 409 where the labels were named in the body.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException, status

from fastapi_issues.schemas import MAX_LABELS_PER_ISSUE
from fastapi_issues.storage.errors import (
    CommentNotFound,
    CommentVersionConflict,
    DeliveryNotFound,
    DuplicateLabel,
    HookNotFound,
    InvalidIssueChange,
    IssueNotFound,
    LabelNotFound,
    StorageError,
    TooManyLabels,
    VersionConflict,
)

__all__ = [
    "COMMENT_CHANGED",
    "COMMENT_NOT_FOUND",
    "DELIVERY_NOT_FOUND",
    "HOOK_NOT_FOUND",
    "ISSUE_CHANGED",
    "LABEL_NOT_FOUND",
    "NOT_FOUND",
    "STORE_ERRORS",
    "ErrorRule",
    "ErrorTable",
]

NOT_FOUND = "Issue not found"
LABEL_NOT_FOUND = "Label not found"
COMMENT_NOT_FOUND = "Comment not found"
HOOK_NOT_FOUND = "Hook not found"
DELIVERY_NOT_FOUND = "Delivery not found"
ISSUE_CHANGED = "The issue has changed since the version in If-Match; fetch it again and retry"
COMMENT_CHANGED = "The comment has changed since the version in If-Match; fetch it again and retry"


@dataclass(frozen=True)
class ErrorRule:
    """Answer `error` (and its subclasses) with `status` and `detail`.

    `detail` is the message, or makes it from the error. `operations`, when given, limits the
    row to those operations (`"label:set_issue"`: the router's kind and the operation). With
    `log`, the error is a failure rather than a refusal: it is logged at ERROR with that
    format and kept as the answer's cause; its text (a path, a driver message) goes to the
    log, never to the client.
    """

    error: type[Exception]
    status: int
    detail: str | Callable[[Any], str]
    operations: frozenset[str] = frozenset()
    log: str | None = None


class ErrorTable:
    """Ordered `ErrorRule`s and the logger their failures go to."""

    def __init__(self, rules: Iterable[ErrorRule], logger: logging.Logger) -> None:
        self.rules = tuple(rules)
        self._log = logger

    def for_operation(self, operation: str) -> ErrorTable:
        """The rows that apply to `operation` (`kind:operation`), picked once per route."""
        return ErrorTable(
            (r for r in self.rules if not r.operations or operation in r.operations), self._log
        )

    def http_error(self, exc: Exception) -> HTTPException | None:
        """The answer to `exc`, from the first row that fits; None when none does."""
        for rule in self.rules:
            if not isinstance(exc, rule.error):
                continue
            if rule.log is not None:
                self._log.error(rule.log, exc)
            detail = rule.detail if isinstance(rule.detail, str) else rule.detail(exc)
            answer = HTTPException(rule.status, detail)
            # A refusal is the answer; a failure keeps its cause for tracebacks.
            answer.__cause__ = exc if rule.log is not None else None
            answer.__suppress_context__ = True
            return answer
        return None


def _missing_labels(exc: LabelNotFound) -> str:
    listed = ", ".join(repr(n) for n in exc.names)
    return f"No label named {listed}; create it first"


def _label_taken(exc: DuplicateLabel) -> str:
    return f"A label named {exc.name!r} already exists"


def _invalid_change(exc: InvalidIssueChange) -> str:
    return exc.reason


def _only(*operations: str) -> frozenset[str]:
    return frozenset(operations)


STORE_ERRORS = ErrorTable(
    [
        ErrorRule(IssueNotFound, status.HTTP_404_NOT_FOUND, NOT_FOUND),
        # Labels named in the body that the tracker does not have (yet): well formed, but at
        # odds with its state, like too many labels; not a missing resource.
        ErrorRule(
            LabelNotFound,
            status.HTTP_409_CONFLICT,
            _missing_labels,
            operations=_only("label:set_issue", "label:add_issue"),
        ),
        ErrorRule(LabelNotFound, status.HTTP_404_NOT_FOUND, LABEL_NOT_FOUND),
        ErrorRule(CommentNotFound, status.HTTP_404_NOT_FOUND, COMMENT_NOT_FOUND),
        ErrorRule(HookNotFound, status.HTTP_404_NOT_FOUND, HOOK_NOT_FOUND),
        ErrorRule(DeliveryNotFound, status.HTTP_404_NOT_FOUND, DELIVERY_NOT_FOUND),
        ErrorRule(VersionConflict, status.HTTP_412_PRECONDITION_FAILED, ISSUE_CHANGED),
        ErrorRule(CommentVersionConflict, status.HTTP_412_PRECONDITION_FAILED, COMMENT_CHANGED),
        # Well formed, but at odds with the issue as it stands (409, not 422).
        ErrorRule(InvalidIssueChange, status.HTTP_409_CONFLICT, _invalid_change),
        ErrorRule(DuplicateLabel, status.HTTP_409_CONFLICT, _label_taken),
        ErrorRule(
            TooManyLabels,
            status.HTTP_409_CONFLICT,
            f"An issue can carry at most {MAX_LABELS_PER_ISSUE} labels",
        ),
        ErrorRule(
            StorageError,
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "Issue store unavailable",
            log="issue store failed: %s",
        ),
    ],
    logging.getLogger("fastapi_issues"),
)
"""What the issue, label, comment and webhook routers answer for each store error."""
