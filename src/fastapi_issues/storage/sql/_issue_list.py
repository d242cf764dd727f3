"""The statements `SQLIssues.list` runs: one per shape of query, built once and kept, with
the parameters a query gives them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Integer, Select, Text, bindparam, exists, func, or_, select

from fastapi_issues.storage.query import ASSIGNEE_ANY, ASSIGNEE_NONE, IssueQuery
from fastapi_issues.storage.rules import as_utc, label_key
from fastapi_issues.storage.sql._database import SQLITE_CONTAINS_FUNCTION
from fastapi_issues.storage.sql._schema import (
    PRIORITY_RANK,
    issue_assignees,
    issue_labels,
    issues,
    labels,
)
from fastapi_issues.storage.sql._shared import ISSUE_SELECT


class QueryShape(NamedTuple):
    """What a list query's statement depends on: which filters it has (not their values),
    and how it sorts. Queries of one shape share one statement, built once and kept."""

    status: bool
    priority: bool
    reporter: bool
    text: bool
    created_since: bool
    updated_since: bool
    due_before: bool
    due_after: bool
    sort: str
    direction: str
    labels: bool
    assignee: str | None
    """`name` (assigned to the `assignee` given), `none`, `any`, or None: no filter."""


_SORT_KEYS = {
    "created_at": issues.c.created_at,
    "updated_at": issues.c.updated_at,
    "priority": issues.c.priority_rank,
    "title": issues.c.title,
    "due_date": issues.c.due_date,
}
# Sort keys that can be NULL: those rows come last in both directions.
_NULLS_LAST = frozenset({"due_date"})


class TextFilter:
    """The `text` filter in one dialect: its condition, and the parameter it takes."""

    def __init__(self, dialect: str) -> None:
        if dialect == "sqlite":
            self.condition: Callable[[], ColumnElement[bool]] = _sqlite_text_condition
            self.param: Callable[[str], str] = _sqlite_needle
        else:
            self.condition = _like_text_condition
            self.param = _like_pattern


def _like_pattern(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _sqlite_needle(text: str) -> str:
    return text.lower()


def _like_text_condition() -> ColumnElement[bool]:
    pattern = bindparam("text", type_=Text)
    # lower() folds case by its argument's collation, and titles are in "C", which folds
    # only ASCII: fold them in the database's own.
    return or_(
        func.lower(issues.c.title.collate("default")).like(pattern, escape="\\"),
        func.lower(issues.c.description).like(pattern, escape="\\"),
    )


def _sqlite_text_condition() -> ColumnElement[bool]:
    contains = getattr(func, SQLITE_CONTAINS_FUNCTION)
    needle = bindparam("text", type_=Text)
    return contains(needle, issues.c.title, issues.c.description) == 1  # type: ignore[no-any-return]


def list_shape(query: IssueQuery) -> QueryShape:
    """Which statement `query` runs: what it filters on, and how it sorts."""
    # _make from a plain tuple: half the time of calling the class (once per list call).
    return QueryShape._make(
        (
            bool(query.status),
            bool(query.priority),
            query.reporter is not None,
            bool(query.text),
            query.created_since is not None,
            query.updated_since is not None,
            query.due_before is not None,
            query.due_after is not None,
            query.sort,
            query.direction,
            bool(query.labels),
            _assignee_mode(query.assignee),
        )
    )


def list_params(query: IssueQuery, shape: QueryShape, text: TextFilter) -> dict[str, Any]:
    """The parameters of `query`'s statements (those of its shape)."""
    params: dict[str, Any] = {"limit": max(query.limit, 0), "offset": max(query.offset, 0)}
    if query.status:
        params["statuses"] = [status.value for status in query.status]
    if query.priority:
        params["ranks"] = [PRIORITY_RANK[priority.value] for priority in query.priority]
    if query.reporter is not None:
        params["reporter"] = query.reporter
    if query.text:
        params["text"] = text.param(query.text)
    if query.created_since is not None:
        params["created_since"] = as_utc(query.created_since)
    if query.updated_since is not None:
        params["updated_since"] = as_utc(query.updated_since)
    if query.due_before is not None:
        params["due_before"] = query.due_before
    if query.due_after is not None:
        params["due_after"] = query.due_after
    if query.labels:
        keys = sorted({label_key(name) for name in query.labels})
        params["label_keys"] = keys
        params["label_count"] = len(keys)
    if shape.assignee == "name":
        params["assignee"] = query.assignee
    return params


def build_list_statements(
    shape: QueryShape, text: TextFilter, *, with_snapshot: bool
) -> tuple[Select[Any], Select[Any]]:
    """The page and count statements of one shape; with the snapshot they read in last,
    if `with_snapshot` (PostgreSQL's, for its kept counts)."""
    conditions: list[ColumnElement[bool]] = []
    if shape.status:
        conditions.append(issues.c.status.in_(bindparam("statuses", expanding=True)))
    if shape.priority:
        conditions.append(issues.c.priority_rank.in_(bindparam("ranks", expanding=True)))
    if shape.reporter:
        conditions.append(issues.c.reporter == bindparam("reporter"))
    if shape.text:
        conditions.append(text.condition())
    if shape.created_since:
        conditions.append(issues.c.created_at >= bindparam("created_since"))
    if shape.updated_since:
        conditions.append(issues.c.updated_at >= bindparam("updated_since"))
    # A NULL due date compares as unknown, so an issue without one never matches.
    if shape.due_before:
        conditions.append(issues.c.due_date <= bindparam("due_before"))
    if shape.due_after:
        conditions.append(issues.c.due_date >= bindparam("due_after"))
    if shape.labels:
        conditions.append(_labels_condition())
    if shape.assignee is not None:
        conditions.append(_assignee_condition(shape.assignee))
    key = _SORT_KEYS[shape.sort]
    order = key.desc() if shape.direction == "desc" else key.asc()
    if shape.sort in _NULLS_LAST:
        order = order.nulls_last()
    items = (
        select(*ISSUE_SELECT)
        .where(*conditions)
        .order_by(order, issues.c.seq.asc())
        .limit(bindparam("limit", type_=Integer))
        .offset(bindparam("offset", type_=Integer))
    )
    count = select(func.count()).select_from(issues).where(*conditions)
    if with_snapshot:
        snapshot = func.pg_current_snapshot().cast(Text)
        items = items.add_columns(snapshot)
        count = count.add_columns(snapshot)
    return items, count


def _labels_condition() -> ColumnElement[bool]:
    """Issues that carry every label whose key is in `label_keys` (`label_count` of them)."""
    carrying = (
        select(issue_labels.c.issue_id)
        .join(labels, issue_labels.c.label_id == labels.c.id)
        .where(labels.c.name_key.in_(bindparam("label_keys", expanding=True)))
        .group_by(issue_labels.c.issue_id)
        .having(func.count() == bindparam("label_count", type_=Integer))
    )
    return issues.c.id.in_(carrying)


def _assignee_condition(mode: str) -> ColumnElement[bool]:
    """`mode` is `name` (assigned to `assignee`), `none` or `any`."""
    assigned = exists().where(issue_assignees.c.issue_id == issues.c.id)
    if mode == "none":
        return ~assigned
    if mode == "any":
        return assigned
    return exists().where(
        issue_assignees.c.issue_id == issues.c.id,
        issue_assignees.c.username == bindparam("assignee"),
    )


def _assignee_mode(assignee: str | None) -> str | None:
    if assignee is None:
        return None
    if assignee == ASSIGNEE_NONE:
        return "none"
    if assignee == ASSIGNEE_ANY:
        return "any"
    return "name"
