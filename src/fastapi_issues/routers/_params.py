"""What the routers take from paths and queries: limits, patterns and shared parameter types."""

# No `from __future__ import annotations`: FastAPI must see the Annotated types at runtime.

import re
from datetime import datetime
from typing import Annotated, Any

from fastapi import Path, Query
from pydantic import BeforeValidator

from fastapi_issues.storage.rules import as_utc

__all__ = [
    "MAX_FILTER_VALUES",
    "MAX_ID_LENGTH",
    "MAX_PAGE",
    "NO_NUL",
    "IsoDateTime",
    "IssueId",
    "PageNumber",
    "aware",
]

MAX_ID_LENGTH = 100
MAX_FILTER_VALUES = 10
MAX_PAGE = 1_000_000
# NUL is refused in every string the API takes: PostgreSQL cannot store or compare it.
NO_NUL = r"^[^\x00]*$"
_ISO_DATE_START = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_8601(value: Any) -> Any:
    # Pydantic would read "1.5" as a Unix timestamp; the documented format is ISO 8601.
    if isinstance(value, str) and (len(value) > 64 or not _ISO_DATE_START.match(value)):
        raise ValueError("expected an ISO 8601 date-time, e.g. 2024-05-01T12:00:00Z")
    return value


IsoDateTime = Annotated[datetime, BeforeValidator(_iso_8601)]
"""A date-time given in ISO 8601, never as a Unix timestamp."""

IssueId = Annotated[
    str,
    Path(
        max_length=MAX_ID_LENGTH,
        pattern=NO_NUL,
        description="The issue's id, as returned when it was created.",
    ),
]
"""The `{issue_id}` path parameter of every router."""

PageNumber = Annotated[int, Query(ge=1, le=MAX_PAGE, description="Page number, from 1.")]
"""The `page` query parameter of the label and comment lists."""


def aware(moment: datetime | None) -> datetime | None:
    """Naive query times are taken as UTC, like every time the API returns."""
    return None if moment is None else as_utc(moment)
