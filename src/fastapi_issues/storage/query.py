"""What a list call asks for (`IssueQuery`) and what it gets back (pages)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from fastapi_issues.schemas import (
    CommentOut,
    DeliveryOut,
    EventOut,
    EventType,
    HookOut,
    IssueOut,
    IssuePriority,
    IssueStatus,
    LabelOut,
)

__all__ = [
    "ASSIGNEE_ANY",
    "ASSIGNEE_NONE",
    "CommentPage",
    "DeliveryPage",
    "EventPage",
    "EventQuery",
    "HookPage",
    "IssuePage",
    "IssueQuery",
    "IssueSortField",
    "LabelPage",
    "SortDirection",
]

IssueSortField = Literal["created_at", "updated_at", "priority", "title", "due_date"]
"""What issues can be sorted by. By `due_date`, issues without one come last in both
directions."""

SortDirection = Literal["asc", "desc"]

ASSIGNEE_NONE = "none"
"""`IssueQuery.assignee` value selecting issues nobody is assigned to."""

ASSIGNEE_ANY = "*"
"""`IssueQuery.assignee` value selecting issues somebody is assigned to."""


@dataclass(frozen=True)
class IssueQuery:
    """Which issues a list call returns, in what order, and which slice of them.

    Filters combine with AND; the values inside `status` or `priority` combine with OR.
    Ties in the sort order are broken by creation order, so pages never overlap; sorted by
    `due_date`, issues without one come after all the others, whichever the direction.
    """

    offset: int = 0
    limit: int = 20
    status: Sequence[IssueStatus] = ()
    priority: Sequence[IssuePriority] = ()
    reporter: str | None = None
    text: str | None = None
    """Case-insensitive substring of the title or the description."""
    created_since: datetime | None = None
    updated_since: datetime | None = None
    due_before: date | None = None
    """Only issues due on or before this date; an issue without a due date never matches."""
    due_after: date | None = None
    """Only issues due on or after this date; an issue without a due date never matches."""
    labels: Sequence[str] = ()
    """Label names, ignoring case: only issues that carry every one of them. A name no label
    has matches nothing; so does any name for a store without labels."""
    assignee: str | None = None
    """A username, `ASSIGNEE_NONE` for unassigned issues or `ASSIGNEE_ANY` for assigned ones."""
    sort: IssueSortField = "created_at"
    direction: SortDirection = "asc"


@dataclass(frozen=True)
class IssuePage:
    """One page of a list call: the issues on it and how many match in all."""

    items: Sequence[IssueOut]
    total: int


@dataclass(frozen=True)
class LabelPage:
    """One page of labels, ordered by name ignoring case, and how many there are in all."""

    items: Sequence[LabelOut]
    total: int


@dataclass(frozen=True)
class CommentPage:
    """One page of an issue's comments, oldest first, and how many match in all."""

    items: Sequence[CommentOut]
    total: int


@dataclass(frozen=True)
class EventQuery:
    """What a read of the event log asks for: events after `after`, ascending by id, at most
    `limit` of them, optionally only of some `types` or of one issue."""

    after: int = 0
    limit: int = 100
    types: frozenset[EventType] | None = None
    issue_id: str | None = None


@dataclass(frozen=True)
class EventPage:
    """One page of an issue's timeline, oldest first, and how many events it has in all."""

    items: Sequence[EventOut]
    total: int


@dataclass(frozen=True)
class HookPage:
    """One page of webhooks, oldest first, and how many there are in all."""

    items: Sequence[HookOut]
    total: int


@dataclass(frozen=True)
class DeliveryPage:
    """One page of a hook's deliveries, newest first, and how many it has in all."""

    items: Sequence[DeliveryOut]
    total: int
