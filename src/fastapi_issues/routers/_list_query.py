"""The issue list's query parameters, validated in one step rather than one by one.

FastAPI's per-parameter handling cost more than a third of a list request, so the route
takes the raw query, validates it as one model here and documents it through
`openapi_extra` exactly as FastAPI would have.
"""

# No `from __future__ import annotations`: FastAPI must see the Annotated types at runtime.

from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fastapi_issues.routers._params import MAX_FILTER_VALUES, MAX_PAGE, NO_NUL, IsoDateTime, aware
from fastapi_issues.schemas import IsoDate, IssuePriority, IssueStatus
from fastapi_issues.storage.query import IssueQuery, IssueSortField, SortDirection

__all__ = [
    "VALIDATION_ERROR_RESPONSE",
    "ListQuery",
    "list_query_parameters",
    "lists_validation_schemas",
    "parse_list_query",
]


class ListQuery(BaseModel):
    """The query parameters of the list route."""

    model_config = ConfigDict(extra="ignore")

    page: int = Field(1, ge=1, le=MAX_PAGE, description="Page number, from 1.")
    limit: int = Field(20, ge=1, le=100, description="Issues per page.")
    status: list[IssueStatus] | None = Field(
        None,
        max_length=MAX_FILTER_VALUES,
        description="Only these statuses (repeat to allow several).",
    )
    priority: list[IssuePriority] | None = Field(
        None,
        max_length=MAX_FILTER_VALUES,
        description="Only these priorities (repeat to allow several).",
    )
    reporter: str | None = Field(
        None, max_length=100, pattern=NO_NUL, description="Only issues this user reported."
    )
    q: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        pattern=NO_NUL,
        description="Text to find in the title or description, ignoring case.",
    )
    created_since: IsoDateTime | None = Field(
        None, description="Only issues created at or after this time."
    )
    updated_since: IsoDateTime | None = Field(
        None, description="Only issues updated at or after this time."
    )
    due_before: IsoDate | None = Field(
        None,
        description="Only issues due on or before this date (YYYY-MM-DD); "
        "issues without a due date never match.",
    )
    due_after: IsoDate | None = Field(
        None,
        description="Only issues due on or after this date (YYYY-MM-DD); "
        "issues without a due date never match.",
    )
    labels: str | None = Field(
        None,
        max_length=1000,
        pattern=NO_NUL,
        description="Comma-separated label names, ignoring case: only issues with all.",
    )
    assignee: str | None = Field(
        None,
        min_length=1,
        max_length=100,
        pattern=NO_NUL,
        description="Only issues assigned to this user; `none` for unassigned ones, "
        "`*` for assigned ones.",
    )
    sort: IssueSortField = Field(
        "created_at",
        description="What to order by; by `due_date`, issues without one come last "
        "in either direction.",
    )
    direction: SortDirection = Field("asc", description="Ascending or descending.")

    def store_query(self) -> IssueQuery:
        """The query to ask the store."""
        return IssueQuery(
            offset=(self.page - 1) * self.limit,
            limit=self.limit,
            status=tuple(self.status or ()),
            priority=tuple(self.priority or ()),
            reporter=self.reporter,
            text=self.q,
            created_since=aware(self.created_since),
            updated_since=aware(self.updated_since),
            due_before=self.due_before,
            due_after=self.due_after,
            labels=tuple(n.strip() for n in (self.labels or "").split(",") if n.strip()),
            assignee=self.assignee,
            sort=self.sort,
            direction=self.direction,
        )


_REPEATABLE = frozenset({"status", "priority"})


def list_query_parameters() -> list[dict[str, Any]]:
    """The list route's query parameters as OpenAPI documents them."""
    schema = ListQuery.model_json_schema(ref_template="#/components/schemas/{model}")
    documented = []
    for name, field_schema in schema["properties"].items():
        if field_schema.get("default", ...) is None:
            del field_schema["default"]  # as FastAPI documents an optional parameter
        documented.append(
            {
                "name": name,
                "in": "query",
                "required": False,
                "schema": field_schema,
                "description": field_schema["description"],
            }
        )
    return documented


def parse_list_query(request: Request) -> ListQuery:
    """The request's list parameters, or the 422 FastAPI would have answered."""
    query = request.query_params
    # Read as FastAPI reads parameters: the last value of a scalar, all values of a list.
    given: dict[str, Any] = {}
    for name in ListQuery.model_fields:
        if name in _REPEATABLE:
            values = query.getlist(name)
            if values:
                given[name] = values
        elif name in query:
            given[name] = query[name]
    try:
        return ListQuery.model_validate(given)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        raise RequestValidationError(
            [{**error, "loc": ("query", *error["loc"])} for error in errors]
        ) from None


VALIDATION_ERROR_RESPONSE = {
    "description": "Validation Error",
    "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}
    },
}
"""The 422 answer, as FastAPI documents it for a route whose parameters it validates."""


async def lists_validation_schemas(
    _: Annotated[str | None, Query(alias="_", include_in_schema=False)] = None,
) -> None:
    """A hidden parameter that makes FastAPI add the validation error schemas."""
    return None
