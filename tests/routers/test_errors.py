"""The store errors' shapes, and the one table the routers answer them from."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from fastapi_issues import (
    InMemoryIssueStore,
    IssueCreate,
    make_comment_router,
    make_label_router,
)
from fastapi_issues.routers._errors import STORE_ERRORS
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

pytestmark = pytest.mark.anyio
ISSUES = "/api/v1/issues"


def test_issue_and_comment_conflicts_are_distinct_stale_versions() -> None:
    issue = VersionConflict("i1", 1, 2)
    comment = CommentVersionConflict("c1", 3, 4)
    assert not isinstance(comment, VersionConflict)
    assert not isinstance(issue, CommentVersionConflict)
    assert isinstance(issue, StaleVersion)
    assert isinstance(comment, StaleVersion)
    assert (issue.issue_id, issue.expected, issue.actual) == ("i1", 1, 2)
    assert (comment.comment_id, comment.expected, comment.actual) == ("c1", 3, 4)
    assert not hasattr(comment, "issue_id")
    assert str(issue) == "issue 'i1' is at version 2, not 1"
    assert str(comment) == "comment 'c1' is at version 4, not 3"


@pytest.mark.parametrize(
    ("error", "operation", "status", "detail"),
    [
        (IssueNotFound("i1"), "issue:get", 404, "Issue not found"),
        (IssueNotFound("i1"), "comment:list", 404, "Issue not found"),
        (LabelNotFound(["a"]), "label:get", 404, "Label not found"),
        (LabelNotFound(["a"]), "label:remove_issue", 404, "Label not found"),
        (
            LabelNotFound(["a", "b"]),
            "label:set_issue",
            409,
            "No label named 'a', 'b'; create it first",
        ),
        (LabelNotFound(["a"]), "label:add_issue", 409, "No label named 'a'; create it first"),
        (CommentNotFound("c1"), "comment:get", 404, "Comment not found"),
        (
            VersionConflict("i1", 1, 2),
            "issue:update",
            412,
            "The issue has changed since the version in If-Match; fetch it again and retry",
        ),
        (
            CommentVersionConflict("c1", 1, 2),
            "comment:update",
            412,
            "The comment has changed since the version in If-Match; fetch it again and retry",
        ),
        (InvalidIssueChange("i1", "state_reason", "not closed"), "issue:patch", 409, "not closed"),
        (DuplicateLabel("Bug"), "label:create", 409, "A label named 'Bug' already exists"),
        (TooManyLabels("i1", 3), "label:add_issue", 409, "An issue can carry at most 20 labels"),
        (CorruptStoreError("bad file"), "issue:list", 503, "Issue store unavailable"),
        (StorageError("down"), "label:list", 503, "Issue store unavailable"),
    ],
)
def test_each_store_error_has_its_answer(
    error: StorageError, operation: str, status: int, detail: str
) -> None:
    answer = STORE_ERRORS.for_operation(operation).http_error(error)
    assert answer is not None
    assert (answer.status_code, answer.detail) == (status, detail)


def test_failures_are_logged_with_their_cause_and_refusals_are_not(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, logger="fastapi_issues"):
        refusal = STORE_ERRORS.http_error(IssueNotFound("i1"))
        assert caplog.text == ""
        failure_cause = StorageError("disk on fire at /srv/x")
        failure = STORE_ERRORS.http_error(failure_cause)
    assert refusal is not None
    assert refusal.__cause__ is None
    assert failure is not None
    assert failure.__cause__ is failure_cause
    assert "issue store failed: disk on fire at /srv/x" in caplog.text
    assert "/srv/x" not in str(failure.detail)


class StaleCommentStore(InMemoryIssueStore):
    """Every comment edit loses a race, and every label edit names a missing label."""

    async def update_comment(self, issue_id: str, comment_id: str, *a: Any, **k: Any) -> Any:
        raise CommentVersionConflict(comment_id, 1, 2)

    async def add_issue_labels(self, issue_id: str, names: Any, **k: Any) -> Any:
        raise LabelNotFound(names)

    async def remove_issue_labels(self, issue_id: str, names: Any, **k: Any) -> Any:
        raise LabelNotFound(names)


async def test_the_kernel_answers_what_endpoints_let_through() -> None:
    store = StaleCommentStore()
    app = FastAPI()
    app.include_router(make_label_router(store))
    app.include_router(make_comment_router(store))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as client:
        issue = await store.create(IssueCreate(title="Stale", description="Always behind"))
        comment = await client.post(f"{ISSUES}/{issue.id}/comments", json={"body": "Hi"})
        edited = await client.patch(
            f"{ISSUES}/{issue.id}/comments/{comment.json()['id']}", json={"body": "Ho"}
        )
        added = await client.post(f"{ISSUES}/{issue.id}/labels", json={"labels": ["nope"]})
        removed = await client.delete(f"{ISSUES}/{issue.id}/labels/nope")
    assert edited.status_code == 412
    assert edited.json()["detail"].startswith("The comment has changed")
    assert (added.status_code, added.json()) == (
        409,
        {"detail": "No label named 'nope'; create it first"},
    )
    assert (removed.status_code, removed.json()) == (404, {"detail": "Label not found"})
