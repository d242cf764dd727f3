"""What the SQL store's issue, label and comment parts share: how an issue is read (its row
and the lookups of its labels, assignees and comment count), and the statements and limits
more than one part runs."""

from __future__ import annotations

import json
import types
import typing
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from enum import Enum
from typing import Any

from sqlalchemy import Column, DateTime, Row, Text, bindparam, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from fastapi_issues.schemas import IssueOut
from fastapi_issues.storage.errors import IssueNotFound, StorageError
from fastapi_issues.storage.rules import as_utc, label_sort_key
from fastapi_issues.storage.sql._database import SQLConnection, SQLDatabase
from fastapi_issues.storage.sql._schema import (
    ISSUE_COLUMNS,
    PRIORITY_RANK,
    comments,
    issue_assignees,
    issue_labels,
    issues,
    labels,
)

MAX_ATTEMPTS = 100
"""Tries of a read-then-write before giving up: a writer that always loses to others would
otherwise spin forever."""

IMPORT_BATCH = 500
"""Rows per statement when importing and exporting."""


class json_names(FunctionElement[str]):
    """The values of a column over the rows of a subquery, as one JSON array: the one way
    both databases hand over a list in a single column."""

    type = Text()
    inherit_cache = True
    name = "json_names"


@compiles(json_names, "sqlite")
def _json_names_sqlite(element: json_names, compiler: SQLCompiler, **kw: Any) -> str:
    return f"json_group_array({compiler.process(element.clauses, **kw)})"


@compiles(json_names, "postgresql")
def _json_names_postgresql(element: json_names, compiler: SQLCompiler, **kw: Any) -> str:
    return f"json_agg({compiler.process(element.clauses, **kw)})"


_LABEL_NAMES = (
    select(json_names(labels.c.name))
    .select_from(issue_labels.join(labels, issue_labels.c.label_id == labels.c.id))
    .where(issue_labels.c.issue_id == issues.c.id)
    .scalar_subquery()
)
_ASSIGNEES = (
    select(json_names(issue_assignees.c.username))
    .where(issue_assignees.c.issue_id == issues.c.id)
    .scalar_subquery()
)
_COMMENT_COUNT = select(func.count()).where(comments.c.issue_id == issues.c.id).scalar_subquery()

ISSUE_SELECT = (*ISSUE_COLUMNS, _LABEL_NAMES, _ASSIGNEES, _COMMENT_COUNT)
"""What an issue is read from: its columns, then its label names, assignees and comment
count, each looked up through an index."""

SELECT_ISSUE = select(*ISSUE_SELECT).where(issues.c.id == bindparam("match_id"))
"""One issue, by `match_id`."""

ISSUE_VERSION = select(issues.c.version).where(issues.c.id == bindparam("issue_id"))
"""The version of the issue `issue_id`: no row when there is no such issue."""

LABEL_IDS_BY_KEY = select(labels.c.id, labels.c.name_key).where(
    labels.c.name_key.in_(bindparam("keys", expanding=True))
)
"""`(id, name_key)` of the labels whose keys are in `keys`."""

_FIELDS = tuple(column.name for column in ISSUE_COLUMNS)
_validate_issue = IssueOut.__pydantic_validator__.validate_python


def _names(value: Any) -> list[str]:
    # SQLite gives "[]" for no rows, PostgreSQL gives NULL.
    if value is None:
        return []
    names = json.loads(value) if isinstance(value, str) else value
    return [name for name in names if isinstance(name, str)]


def issue_from_row(row: Row[Any] | Sequence[Any]) -> IssueOut:
    """The one place a row of `ISSUE_SELECT` becomes an issue."""
    width = len(_FIELDS)
    try:
        fields = dict(zip(_FIELDS, row[:width], strict=True))
        fields["labels"] = sorted(_names(row[width]), key=label_sort_key)
        fields["assignees"] = sorted(_names(row[width + 1]))
        fields["comment_count"] = row[width + 2]
        return _validate_issue(fields)  # type: ignore[no-any-return]
    except ValueError as exc:
        raise StorageError(f"an issue row cannot be read: {exc}") from exc


def _aware_or_none(moment: datetime | None) -> datetime | None:
    return None if moment is None else as_utc(moment)


def _value_or_none(member: Enum | None) -> Any:
    return None if member is None else member.value


def _names_an_enum(annotation: Any) -> bool:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return any(_names_an_enum(arg) for arg in typing.get_args(annotation))
    return isinstance(annotation, type) and issubclass(annotation, Enum)


def _to_column(column: Column[Any]) -> Callable[[Any], Any] | None:
    """How a field's value is written to its column, if not as it is: times in UTC (a
    naive time is taken as UTC, as `UTCTimestamp` reads it), enums by their value."""
    if isinstance(column.type, DateTime):
        return _aware_or_none
    if _names_an_enum(IssueOut.model_fields[column.name].annotation):
        return _value_or_none
    return None


_Written = tuple[tuple[str, ...], tuple[tuple[str, Callable[[Any], Any]], ...]]


def _written(columns: Sequence[Column[Any]]) -> _Written:
    """The columns taken as they are, and those converted with their conversions."""
    conversions = [(column.name, _to_column(column)) for column in columns]
    return (
        tuple(name for name, convert in conversions if convert is None),
        tuple((name, convert) for name, convert in conversions if convert is not None),
    )


# Written by `create` only: no update changes them, so the SET clause leaves them (and the
# unique index on id) alone.
_SET_ON_CREATE = frozenset({"id", "created_at", "reporter"})
_ROW = _written(ISSUE_COLUMNS)
_CHANGEABLE = _written([column for column in ISSUE_COLUMNS if column.name not in _SET_ON_CREATE])


def _columns(issue: IssueOut, written: _Written) -> dict[str, Any]:
    fields = issue.__dict__
    as_they_are, converted = written
    values = {name: fields[name] for name in as_they_are}
    for name, convert in converted:
        values[name] = convert(fields[name])
    # The rank is the database's own column: sorting and filtering by priority use it.
    values["priority_rank"] = PRIORITY_RANK[issue.priority.value]
    return values


def issue_row(issue: IssueOut) -> dict[str, Any]:
    """The one place an issue becomes a row of `issues`: every column but `seq`."""
    return _columns(issue, _ROW)


def changed_columns(issue: IssueOut) -> dict[str, Any]:
    """The columns an update writes: all but those set once, when the issue is created."""
    return _columns(issue, _CHANGEABLE)


async def read_issue(db: SQLDatabase, issue_id: str) -> IssueOut:
    """The issue `issue_id`, read on the direct path; `IssueNotFound` if there is none."""
    if db.unstorable(issue_id):
        raise IssueNotFound(issue_id)
    rows = await db.fetch(SELECT_ISSUE, {"match_id": issue_id})
    if not rows:
        raise IssueNotFound(issue_id)
    return issue_from_row(rows[0])


async def issue_on(conn: SQLConnection, issue_id: str) -> IssueOut | None:
    """The issue `issue_id` as `conn`'s transaction sees it, or None."""
    row = (await conn.execute(SELECT_ISSUE, {"match_id": issue_id})).first()
    return None if row is None else issue_from_row(row)


def new_id() -> str:
    """A fresh id for a label."""
    return str(uuid.uuid4())
