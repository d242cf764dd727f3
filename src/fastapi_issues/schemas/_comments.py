"""Comments on an issue: create, edit, and the comment as returned."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from fastapi_issues.schemas._fields import CommentBody, NamesAKnownField


class CommentCreate(BaseModel):
    """The body of a comment create request."""

    model_config = ConfigDict(
        extra="ignore", json_schema_extra={"examples": [{"body": "Reproduced on Firefox too."}]}
    )

    body: CommentBody = Field(examples=["Reproduced on Firefox too."])


class CommentUpdate(NamesAKnownField):
    """A comment edit: the new text."""

    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={"examples": [{"body": "Reproduced on Firefox and Safari."}]},
    )

    body: CommentBody


class CommentOut(BaseModel):
    """A comment as stored and returned."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(description="A UUID string, assigned on create.")
    issue_id: str
    body: str
    author: str | None = Field(
        default=None, description="Username of whoever wrote it; null when auth is off."
    )
    created_at: datetime
    updated_at: datetime
    version: int = Field(default=1, description="Starts at 1 and grows by one on every edit.")
