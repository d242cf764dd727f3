"""Labels: create, edit, the label as returned, and the names set on an issue."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from fastapi_issues.schemas._fields import (
    MAX_LABELS_PER_ISSUE,
    Color,
    LabelDescription,
    LabelName,
    NamesAKnownField,
)


class LabelCreate(BaseModel):
    """The body of a label create request."""

    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [{"name": "bug", "color": "d73a4a", "description": "Something is broken"}]
        },
    )

    name: LabelName = Field(
        description="Unique ignoring case; keeps the case given. No commas.", examples=["bug"]
    )
    color: Color = Field(
        default="ededed", description="Six hex digits, `#` optional.", examples=["d73a4a"]
    )
    description: LabelDescription = ""


class LabelUpdate(NamesAKnownField):
    """A partial label update; renaming keeps the label on every issue that carries it."""

    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={"examples": [{"color": "b60205", "description": "Needs a fix"}]},
    )

    name: LabelName = Field(default=None)  # type: ignore[assignment]
    color: Color = Field(default=None)  # type: ignore[assignment]
    description: LabelDescription = Field(default=None)  # type: ignore[assignment]


class LabelOut(BaseModel):
    """A label as stored and returned."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(description="A UUID string, assigned on create.")
    name: str
    color: str = Field(description="Six lowercase hex digits, no `#`.")
    description: str = ""


class IssueLabels(BaseModel):
    """Label names to set on, add to or remove from an issue, matched ignoring case."""

    model_config = ConfigDict(extra="ignore", json_schema_extra={"examples": [{"labels": ["bug"]}]})

    labels: list[LabelName] = Field(max_length=MAX_LABELS_PER_ISSUE, examples=[["bug"]])
