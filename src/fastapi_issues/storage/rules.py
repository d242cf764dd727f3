"""Rules every store applies the same way, whatever it keeps its data in.

Stores call these instead of restating them, so a new issue or comment, a version check,
closing an issue or matching a label name means the same thing in memory, in a JSON file
and in SQL.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime
from typing import TypeVar, overload

from fastapi_issues.schemas import (
    CommentCreate,
    CommentOut,
    IssueCreate,
    IssueOut,
    IssueStatus,
    StateReason,
)
from fastapi_issues.storage.errors import (
    CommentVersionConflict,
    InvalidIssueChange,
    VersionConflict,
)

__all__ = [
    "as_utc",
    "check_comment_version",
    "check_version",
    "closing_changes",
    "issue_changes",
    "label_key",
    "label_sort_key",
    "names_to_import",
    "new_comment",
    "new_issue",
]


def as_utc(moment: datetime) -> datetime:
    """`moment`, read as UTC if it names no time zone: every time a store keeps or compares
    is aware, whatever a caller or an imported file gave."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def label_key(name: str) -> str:
    """What label names are compared by: `Bug`, `BUG` and `bug` are one label."""
    return name.casefold()


def label_sort_key(name: str) -> tuple[str, str]:
    """Orders label names ignoring case, and case variants the same way every time."""
    return (name.casefold(), name)


def closing_changes(
    current: IssueOut, requested: Mapping[str, object], actor: str | None, now: datetime
) -> dict[str, object]:
    """The closing fields (`closed_at`, `closed_by`, `state_reason`) an update implies.

    `requested` holds the fields the client sent (`IssueUpdate.changes()`). Closing an issue
    records when, by whom and why (`completed` unless a reason is sent); sending a reason for
    an issue that is already closed changes only the reason; any other status clears all
    three. A reason for an issue that stays open raises `InvalidIssueChange`.
    """
    status = requested.get("status", current.status)
    reason = requested.get("state_reason")
    if status == IssueStatus.closed:
        if current.status != IssueStatus.closed:
            return {
                "closed_at": now,
                "closed_by": actor,
                "state_reason": reason or StateReason.completed,
            }
        if reason is not None and reason != current.state_reason:
            return {"state_reason": reason}
        return {}
    if reason is not None:
        raise InvalidIssueChange(
            current.id, "state_reason", "state_reason can only be set on a closed issue"
        )
    if current.status == IssueStatus.closed:
        return {"closed_at": None, "closed_by": None, "state_reason": None}
    return {}


def issue_changes(
    current: IssueOut, requested: Mapping[str, object], actor: str | None, now: datetime
) -> dict[str, object]:
    """The fields an update changes: those sent that differ, and what closing implies.

    Empty when the update changes nothing; otherwise the store also sets `updated_at` to
    `now` and adds one to `version`.
    """
    changed = {
        name: value
        for name, value in requested.items()
        if name != "state_reason" and getattr(current, name) != value
    }
    changed.update(closing_changes(current, requested, actor, now))
    return changed


IssueT = TypeVar("IssueT", bound=IssueOut)


@overload
def new_issue(data: IssueCreate, reporter: str | None, now: datetime) -> IssueOut: ...


@overload
def new_issue(
    data: IssueCreate, reporter: str | None, now: datetime, shape: type[IssueT]
) -> IssueT: ...


def new_issue(
    data: IssueCreate, reporter: str | None, now: datetime, shape: type[IssueOut] = IssueOut
) -> IssueOut:
    """The issue `data` creates at `now`: a fresh UUID, open, version 1, with no labels and
    no comments (labels are added by their own calls).

    `shape` is the `IssueOut` subclass to build when a store keeps more than the API shows
    (the in-process stores keep label ids), so the issue is validated once.
    """
    return shape(
        id=str(uuid.uuid4()),
        title=data.title,
        description=data.description,
        priority=data.priority,
        status=IssueStatus.open,
        created_at=now,
        updated_at=now,
        reporter=reporter,
        version=1,
        assignees=list(data.assignees),
        due_date=data.due_date,
    )


def new_comment(
    issue_id: str, data: CommentCreate, author: str | None, now: datetime
) -> CommentOut:
    """The comment `data` posts on the issue `issue_id` at `now`: a fresh UUID, version 1."""
    return CommentOut(
        id=str(uuid.uuid4()),
        issue_id=issue_id,
        body=data.body,
        author=author,
        created_at=now,
        updated_at=now,
        version=1,
    )


def check_version(issue: IssueOut, expected_version: int | None) -> None:
    """Raise `VersionConflict` unless `expected_version` is `None` or the issue's version."""
    if expected_version is not None and issue.version != expected_version:
        raise VersionConflict(issue.id, expected_version, issue.version)


def check_comment_version(comment: CommentOut, expected_version: int | None) -> None:
    """Raise `CommentVersionConflict` unless `expected_version` is `None` or the comment's
    version."""
    if expected_version is not None and comment.version != expected_version:
        raise CommentVersionConflict(comment.id, expected_version, comment.version)


def names_to_import(present: Collection[str], imported: Sequence[IssueOut]) -> list[str]:
    """The label names of the issues an import adds (not of those it skips, whose ids are
    in `present`), each once, in the order they first appear."""
    names: dict[str, None] = {}
    seen = set(present)
    for issue in imported:
        if issue.id not in seen:
            seen.add(issue.id)
            names.update(dict.fromkeys(issue.labels))
    return list(names)
