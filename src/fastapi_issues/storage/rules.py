"""Rules every store applies the same way, whatever it keeps its data in.

Stores call these instead of restating them, so a new issue or comment, a version check,
closing an issue or matching a label name means the same thing in memory, in a JSON file
and in SQL.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import Enum
from typing import TypeVar, overload

from fastapi_issues.schemas import (
    CommentCreate,
    CommentOut,
    EventOut,
    EventType,
    FieldChange,
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
    "EVENT_FIELDS",
    "EventDraft",
    "as_utc",
    "check_comment_version",
    "check_version",
    "closing_changes",
    "comment_event",
    "issue_changes",
    "issue_events",
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


EVENT_FIELDS = (
    "title",
    "description",
    "priority",
    "status",
    "state_reason",
    "due_date",
    "labels",
    "assignees",
)
"""The fields whose changes events record; the rest (version, times, `closed_by`,
`comment_count`) follow from these."""


@dataclass(frozen=True)
class EventDraft:
    """An event before the store numbers it: everything but `id`, `actor` and the time,
    which the store adds in the same write as the change (`numbered`)."""

    type: EventType
    issue_id: str | None
    changes: Mapping[str, FieldChange] | None = None
    issue: IssueOut | None = None
    comment: CommentOut | None = None

    def numbered(self, event_id: int, actor: str | None, now: datetime) -> EventOut:
        """The event as the log keeps it."""
        return EventOut(
            id=event_id,
            type=self.type,
            issue_id=self.issue_id,
            actor=actor,
            created_at=now,
            changes=dict(self.changes) if self.changes is not None else None,
            issue=self.issue,
            comment=self.comment,
        )


def issue_events(before: IssueOut | None, after: IssueOut | None) -> list[EventDraft]:
    """The events of one write to an issue, from the issue before and after it.

    `before` None is a creation, `after` None a deletion. A write that changes none of
    `EVENT_FIELDS` records nothing. Otherwise one event per kind of change, in
    `EventType`'s order, each with the changes of its kind and the issue after the write:
    `issue.updated` the plain fields (and `status`/`state_reason` when neither closing
    nor reopening), `issue.closed`/`issue.reopened` the status and `state_reason`, the
    label and assignee events the whole list before and after (both events when some
    were added and others removed).
    """
    if before is None:
        return [] if after is None else [EventDraft(EventType.ISSUE_CREATED, after.id, issue=after)]
    if after is None:
        return [EventDraft(EventType.ISSUE_DELETED, before.id)]
    changed = {
        name: FieldChange({"from": _json(getattr(before, name)), "to": _json(getattr(after, name))})
        for name in EVENT_FIELDS
        if getattr(before, name) != getattr(after, name)
    }
    kinds: list[tuple[EventType, tuple[str, ...]]] = []
    closed, was_closed = after.status == IssueStatus.closed, before.status == IssueStatus.closed
    state = ("status", "state_reason")
    plain = tuple(n for n in EVENT_FIELDS if n not in ("labels", "assignees"))
    if closed != was_closed:
        plain = tuple(n for n in plain if n not in state)
    kinds.append((EventType.ISSUE_UPDATED, plain))
    if closed != was_closed:
        kinds.append((EventType.ISSUE_CLOSED if closed else EventType.ISSUE_REOPENED, state))
    kinds += _list_events(
        before.labels, after.labels, "labels", EventType.ISSUE_LABELED, EventType.ISSUE_UNLABELED
    )
    kinds += _list_events(
        before.assignees,
        after.assignees,
        "assignees",
        EventType.ISSUE_ASSIGNED,
        EventType.ISSUE_UNASSIGNED,
    )
    drafts = []
    for kind, names in kinds:
        changes = {name: changed[name] for name in names if name in changed}
        if changes:
            drafts.append(EventDraft(kind, after.id, changes=changes, issue=after))
    return drafts


def comment_event(
    before: CommentOut | None, after: CommentOut | None, issue: IssueOut | None
) -> EventDraft | None:
    """The event of one write to a comment (`before` None: created; `after` None:
    deleted), with the issue after the write; None when an edit changed nothing."""
    if before is None:
        assert after is not None
        return EventDraft(EventType.COMMENT_CREATED, after.issue_id, issue=issue, comment=after)
    if after is None:
        return EventDraft(EventType.COMMENT_DELETED, before.issue_id, issue=issue, comment=before)
    if before.body == after.body:
        return None
    changes = {"body": FieldChange({"from": before.body, "to": after.body})}
    return EventDraft(
        EventType.COMMENT_UPDATED, after.issue_id, changes=changes, issue=issue, comment=after
    )


def _list_events(
    before: Sequence[str], after: Sequence[str], name: str, added: EventType, removed: EventType
) -> list[tuple[EventType, tuple[str, ...]]]:
    kinds: list[tuple[EventType, tuple[str, ...]]] = []
    if set(after) - set(before):
        kinds.append((added, (name,)))
    if set(before) - set(after):
        kinds.append((removed, (name,)))
    return kinds


def _json(value: object) -> object:
    """A field's value as JSON holds it, so every store keeps and compares the same."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):
        return list(value)
    return value
