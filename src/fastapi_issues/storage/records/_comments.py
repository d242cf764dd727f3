"""Comment logic shared by the stores that keep everything in Python objects.

The functions that take a `dict` edit it in place and raise, if at all, before editing, as
`DurableJSONArray` changes must.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Mapping, Sequence
from datetime import datetime

from fastapi_issues.schemas import CommentOut, CommentUpdate
from fastapi_issues.storage.errors import CommentNotFound
from fastapi_issues.storage.query import CommentPage
from fastapi_issues.storage.rules import check_comment_version


def _existing(
    comments: Mapping[str, CommentOut], issue_id: str, comment_id: str, expected: int | None
) -> CommentOut:
    comment = comments.get(comment_id)
    if comment is None or comment.issue_id != issue_id:
        raise CommentNotFound(comment_id)
    check_comment_version(comment, expected)
    return comment


def find_comment(comments: Mapping[str, CommentOut], issue_id: str, comment_id: str) -> CommentOut:
    return _existing(comments, issue_id, comment_id, None)


def apply_comment_update(
    comments: dict[str, CommentOut],
    issue_id: str,
    comment_id: str,
    changes: CommentUpdate,
    expected_version: int | None,
    now: datetime,
) -> CommentOut:
    comment = _existing(comments, issue_id, comment_id, expected_version)
    if comment.body == changes.body:
        return comment
    updated = comment.model_copy(
        update={"body": changes.body, "updated_at": now, "version": comment.version + 1}
    )
    comments[comment_id] = updated
    return updated


def apply_comment_delete(
    comments: dict[str, CommentOut], issue_id: str, comment_id: str, expected_version: int | None
) -> None:
    _existing(comments, issue_id, comment_id, expected_version)
    del comments[comment_id]


def add_missing_comments(
    comments: dict[str, CommentOut], imported: Iterable[CommentOut], issue_ids: Container[str]
) -> int:
    """Add comments as they are, in order, skipping ids already here and comments of
    issues not in `issue_ids`."""
    added = 0
    for comment in imported:
        if comment.id in comments or comment.issue_id not in issue_ids:
            continue
        comments[comment.id] = comment
        added += 1
    return added


def select_comments(
    comments: Sequence[CommentOut], offset: int, limit: int, since: datetime | None
) -> CommentPage:
    selected = comments if since is None else [c for c in comments if c.updated_at >= since]
    return CommentPage(items=selected[offset : offset + limit], total=len(selected))
