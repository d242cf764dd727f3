"""Issues: what a client sends to create and edit one, and what it gets back."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

from pydantic import BaseModel, ConfigDict, Field

from fastapi_issues.schemas._fields import (
    EXAMPLE_USER,
    MAX_ASSIGNEES,
    Assignees,
    Description,
    DueDate,
    NamesAKnownField,
    Title,
)


class IssuePriority(str, Enum):
    """How urgent an issue is. Sorting by priority orders low < medium < high."""

    low = "low"
    medium = "medium"
    high = "high"


class IssueStatus(str, Enum):
    """Where an issue stands in its life."""

    open = "open"
    in_progress = "in_progress"
    closed = "closed"


class StateReason(str, Enum):
    """Why a closed issue was closed."""

    completed = "completed"
    not_planned = "not_planned"
    duplicate = "duplicate"


class IssueCreate(BaseModel):
    """The body of a create request. Every new issue starts `open`."""

    # Unknown fields are dropped, never stored or echoed back.
    model_config = ConfigDict(
        extra="ignore",
        # Whole bodies that work as they are, against the example app's demo user too.
        json_schema_extra={
            "examples": [
                {
                    "title": "Login button does nothing",
                    "description": "Clicking it on the sign-in page has no effect.",
                    "priority": "high",
                    "assignees": [EXAMPLE_USER],
                }
            ]
        },
    )

    title: Title = Field(examples=["Login button does nothing"])
    description: Description = Field(examples=["Clicking it on the sign-in page has no effect."])
    priority: IssuePriority = IssuePriority.medium
    assignees: Assignees = Field(
        default_factory=list,
        description=f"Usernames, at most {MAX_ASSIGNEES}, none twice.",
        examples=[[EXAMPLE_USER]],
    )
    due_date: DueDate = None


class IssueUpdate(NamesAKnownField):
    """A partial update: only the fields sent are changed.

    `null` is refused rather than read as "unchanged", so a client can never blank a field;
    the one exception is `due_date`, which is optional and cleared by `null`.
    """

    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                {"status": "in_progress", "assignees": [EXAMPLE_USER]},
                {"status": "closed", "state_reason": "completed"},
            ]
        },
    )

    # The default None only means "not sent"; an explicit null fails validation.
    title: Title = Field(default=None, examples=["Login button does nothing on Safari"])  # type: ignore[assignment]
    description: Description = Field(default=None)  # type: ignore[assignment]
    priority: IssuePriority = Field(default=None)  # type: ignore[assignment]
    status: IssueStatus = Field(default=None)  # type: ignore[assignment]
    assignees: Assignees = Field(
        default=None,  # type: ignore[arg-type]
        description="The new assignees, replacing the old ones; `[]` for none.",
    )
    state_reason: StateReason = Field(  # type: ignore[assignment]
        default=None,
        description=(
            "Why the issue is closed; only with `status: closed` or on a closed issue. "
            "Closing without one means `completed`."
        ),
    )
    # Here None sent is a value ("no due date"): sent or not is told by model_fields_set.
    due_date: DueDate = None


class IssueOut(BaseModel):
    """An issue as stored and as returned by the API."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(description="A UUID string, assigned on create.")
    title: str
    description: str
    priority: IssuePriority
    status: IssueStatus
    created_at: datetime = Field(description="When the issue was created (UTC).")
    updated_at: datetime = Field(description="When the issue last changed (UTC).")
    reporter: str | None = Field(
        default=None, description="Username of whoever created it; null when auth is off."
    )
    version: int = Field(default=1, description="Starts at 1 and grows by one on every change.")
    # Everything below came later: the defaults let files written before load unchanged.
    labels: list[str] = Field(
        default_factory=list, description="Names of the issue's labels, sorted ignoring case."
    )
    assignees: list[str] = Field(default_factory=list, description="Usernames, sorted.")
    state_reason: StateReason | None = Field(
        default=None, description="Why it was closed; null unless the issue is closed."
    )
    closed_at: datetime | None = Field(
        default=None, description="When it was last closed; null unless the issue is closed."
    )
    closed_by: str | None = Field(
        default=None, description="Who closed it; null unless closed by a known user."
    )
    comment_count: int = Field(default=0, description="How many comments the issue has.")
    due_date: DueDate = None
