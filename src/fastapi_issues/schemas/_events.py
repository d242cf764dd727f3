"""The event log's entries, as stored and as returned."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import TypedDict

from fastapi_issues.schemas._comments import CommentOut
from fastapi_issues.schemas._issues import IssueOut


class EventType(str, Enum):
    """What an event records. An update that does several things records one event of
    each kind, in this order: `issue.updated` (plain fields), `issue.closed` or
    `issue.reopened`, `issue.labeled`, `issue.unlabeled`, `issue.assigned`,
    `issue.unassigned`."""

    ISSUE_CREATED = "issue.created"
    ISSUE_UPDATED = "issue.updated"
    ISSUE_CLOSED = "issue.closed"
    ISSUE_REOPENED = "issue.reopened"
    ISSUE_DELETED = "issue.deleted"
    ISSUE_LABELED = "issue.labeled"
    ISSUE_UNLABELED = "issue.unlabeled"
    ISSUE_ASSIGNED = "issue.assigned"
    ISSUE_UNASSIGNED = "issue.unassigned"
    COMMENT_CREATED = "comment.created"
    COMMENT_UPDATED = "comment.updated"
    COMMENT_DELETED = "comment.deleted"


# The functional form: `from` is a keyword. typing_extensions' TypedDict, which Pydantic
# needs before Python 3.12.
FieldChange = TypedDict("FieldChange", {"from": Any, "to": Any})
"""One field's change in an event: its JSON value before and after."""


class EventOut(BaseModel):
    """One entry of the event log, as stored and as returned by the API."""

    model_config = ConfigDict(frozen=True)

    id: int = Field(gt=0, description="Grows with every event, in the order events become visible.")
    type: EventType
    issue_id: str | None = Field(description="The issue the event is about.")
    actor: str | None = Field(
        default=None, description="Who made the change; null when auth is off."
    )
    created_at: datetime = Field(description="When the change was made (UTC).")
    changes: dict[str, FieldChange] | None = Field(
        default=None,
        description="The fields that changed, with their JSON values before and after; "
        "null for creations and deletions.",
    )
    issue: IssueOut | None = Field(
        default=None, description="The issue as it is after the change; null once deleted."
    )
    comment: CommentOut | None = Field(
        default=None,
        description="For comment events: the comment after the change (as it was, when "
        "deleted); null otherwise.",
    )
