"""Request and response models of the issue API."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

__all__ = [
    "IssueCreate",
    "IssueOut",
    "IssuePriority",
    "IssueStatus",
    "IssueUpdate",
]

# NUL is refused: PostgreSQL text cannot hold it, and no title needs it.
_NO_NUL = r"^[^\x00]*$"
Title = Annotated[str, StringConstraints(min_length=3, max_length=100, pattern=_NO_NUL)]
Description = Annotated[str, StringConstraints(min_length=5, max_length=2000, pattern=_NO_NUL)]


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


class IssueCreate(BaseModel):
    """The body of a create request. Every new issue starts `open`."""

    # Unknown fields are dropped, never stored or echoed back.
    model_config = ConfigDict(extra="ignore")

    title: Title = Field(examples=["Login button does nothing"])
    description: Description = Field(examples=["Clicking it on the sign-in page has no effect."])
    priority: IssuePriority = IssuePriority.medium


class IssueUpdate(BaseModel):
    """A partial update: only the fields sent are changed.

    `null` is refused rather than read as "unchanged", so a client can never blank a field.
    """

    model_config = ConfigDict(extra="ignore")

    # The default None only means "not sent"; an explicit null fails validation.
    title: Title = Field(default=None, examples=["Login button does nothing on Safari"])  # type: ignore[assignment]
    description: Description = Field(default=None)  # type: ignore[assignment]
    priority: IssuePriority = Field(default=None)  # type: ignore[assignment]
    status: IssueStatus = Field(default=None)  # type: ignore[assignment]

    def changes(self) -> dict[str, object]:
        """The fields the client sent, by name."""
        return {name: getattr(self, name) for name in self.model_fields_set}


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
