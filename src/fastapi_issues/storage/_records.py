"""Issue logic shared by the stores that keep every issue in Python objects."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any

from fastapi_issues.schemas import IssueCreate, IssueOut, IssuePriority, IssueStatus, IssueUpdate
from fastapi_issues.storage.base import IssueNotFound, IssuePage, IssueQuery, VersionConflict

PRIORITY_RANK = {IssuePriority.low: 0, IssuePriority.medium: 1, IssuePriority.high: 2}

_SORT_KEYS: dict[str, Callable[[IssueOut], Any]] = {
    "created_at": lambda issue: issue.created_at,
    "updated_at": lambda issue: issue.updated_at,
    "priority": lambda issue: PRIORITY_RANK[issue.priority],
    "title": lambda issue: issue.title,
}


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def new_issue(data: IssueCreate, reporter: str | None) -> IssueOut:
    now = utcnow()
    return IssueOut(
        id=str(uuid.uuid4()),
        title=data.title,
        description=data.description,
        priority=data.priority,
        status=IssueStatus.open,
        created_at=now,
        updated_at=now,
        reporter=reporter,
        version=1,
    )


def as_imported(issue: IssueOut) -> IssueOut:
    """`issue` with naive times read as UTC, so it compares with every other issue."""
    if issue.created_at.tzinfo is not None and issue.updated_at.tzinfo is not None:
        return issue
    return issue.model_copy(
        update={
            "created_at": _aware(issue.created_at),
            "updated_at": _aware(issue.updated_at),
        }
    )


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def add_missing(issues: dict[str, IssueOut], imported: Sequence[IssueOut]) -> int:
    """Add the issues whose ids are not in `issues` yet, in order; return how many."""
    added = 0
    for issue in imported:
        if issue.id not in issues:
            issues[issue.id] = as_imported(issue)
            added += 1
    return added


def check_version(issue: IssueOut, expected_version: int | None) -> None:
    if expected_version is not None and issue.version != expected_version:
        raise VersionConflict(issue.id, expected_version, issue.version)


def apply_update(
    issues: dict[str, IssueOut],
    issue_id: str,
    changes: IssueUpdate,
    expected_version: int | None,
) -> IssueOut:
    """Update `issues` in place; return the issue as it now stands."""
    current = issues.get(issue_id)
    if current is None:
        raise IssueNotFound(issue_id)
    check_version(current, expected_version)
    altered = {k: v for k, v in changes.changes().items() if getattr(current, k) != v}
    if not altered:
        return current
    updated = current.model_copy(
        update={**altered, "updated_at": utcnow(), "version": current.version + 1}
    )
    issues[issue_id] = updated
    return updated


def apply_delete(issues: dict[str, IssueOut], issue_id: str, expected_version: int | None) -> None:
    current = issues.get(issue_id)
    if current is None:
        raise IssueNotFound(issue_id)
    check_version(current, expected_version)
    del issues[issue_id]


def _matcher(query: IssueQuery) -> Callable[[IssueOut], bool] | None:
    tests: list[Callable[[IssueOut], bool]] = []
    if query.status:
        statuses = frozenset(query.status)
        tests.append(lambda i: i.status in statuses)
    if query.priority:
        priorities = frozenset(query.priority)
        tests.append(lambda i: i.priority in priorities)
    if query.reporter is not None:
        reporter = query.reporter
        tests.append(lambda i: i.reporter == reporter)
    if query.text:
        needle = query.text.lower()
        tests.append(lambda i: needle in i.title.lower() or needle in i.description.lower())
    if query.created_since is not None:
        created_since = query.created_since
        tests.append(lambda i: i.created_at >= created_since)
    if query.updated_since is not None:
        updated_since = query.updated_since
        tests.append(lambda i: i.updated_at >= updated_since)
    if not tests:
        return None
    return lambda issue: all(test(issue) for test in tests)


class IssueIndex:
    """Issues by id in creation order, with sorted views cached until the next change."""

    __slots__ = ("_views", "issues")

    def __init__(self, issues: dict[str, IssueOut] | None = None) -> None:
        self.issues: dict[str, IssueOut] = issues if issues is not None else {}
        self._views: dict[tuple[str, str], list[IssueOut]] = {}

    def changed(self) -> None:
        """Drop the cached views; call after every change to `issues`."""
        self._views.clear()

    def _view(self, sort: str, direction: str) -> list[IssueOut]:
        view = self._views.get((sort, direction))
        if view is None:
            # sorted() is stable, so ties keep creation order in both directions.
            view = sorted(self.issues.values(), key=_SORT_KEYS[sort], reverse=direction == "desc")
            self._views[(sort, direction)] = view
        return view

    def select(self, query: IssueQuery) -> IssuePage:
        view = self._view(query.sort, query.direction)
        matches = _matcher(query)
        selected = view if matches is None else [i for i in view if matches(i)]
        end = query.offset + query.limit
        return IssuePage(items=selected[query.offset : end], total=len(selected))
