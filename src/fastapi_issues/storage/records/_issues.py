"""Issue logic shared by the stores that keep every issue in Python objects."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence, Sized
from datetime import datetime
from typing import Any

from fastapi_issues.schemas import (
    IssueOut,
    IssuePriority,
    IssueUpdate,
    LabelOut,
)
from fastapi_issues.storage.errors import IssueNotFound, TooManyLabels
from fastapi_issues.storage.query import ASSIGNEE_ANY, ASSIGNEE_NONE, IssuePage, IssueQuery
from fastapi_issues.storage.rules import (
    as_utc,
    check_version,
    issue_changes,
    label_key,
    label_sort_key,
)

PRIORITY_RANK = {IssuePriority.low: 0, IssuePriority.medium: 1, IssuePriority.high: 2}

_SORT_KEYS: dict[str, Callable[[IssueOut], Any]] = {
    "created_at": lambda issue: issue.created_at,
    "updated_at": lambda issue: issue.updated_at,
    "priority": lambda issue: PRIORITY_RANK[issue.priority],
    "title": lambda issue: issue.title,
    "due_date": lambda issue: issue.due_date,
}
# Sorts whose key can be None: those issues come last in both directions.
_NULLS_LAST = frozenset({"due_date"})


class StoredIssue(IssueOut):
    """An issue as these stores keep it: labels by id, so renaming a label is one write to
    the labels and never touches the issues. `labels` and `comment_count` stay empty here;
    `present` fills them in from the labels and comments as they are."""

    label_ids: tuple[str, ...] = ()


def present(issue: IssueOut, labels_by_id: Mapping[str, LabelOut], comment_count: int) -> IssueOut:
    """The stored issue as the API shows it: label names (ids of deleted labels are dropped)
    and the comment count."""
    fields = dict(issue.__dict__)
    ids = fields.pop("label_ids", ())
    names = [labels_by_id[i].name for i in ids if i in labels_by_id]
    fields["labels"] = sorted(names, key=label_sort_key)
    fields["comment_count"] = comment_count
    return IssueOut.model_construct(**fields)


class PresentedIssues:
    """Issues as `present` shows them, each kept until its record, its comment count or (if
    it has labels) the labels change: building one costs more than the rest of a read.

    `labels_by_id` must be a new mapping whenever any label changes.
    """

    __slots__ = ("_shown",)

    def __init__(self) -> None:
        self._shown: dict[str, tuple[IssueOut, Mapping[str, LabelOut], int, IssueOut]] = {}

    def show(
        self, issue: IssueOut, labels_by_id: Mapping[str, LabelOut], comment_count: int
    ) -> IssueOut:
        hit = self._shown.get(issue.id)
        if (
            hit is not None
            and hit[0] is issue
            and hit[2] == comment_count
            and (hit[1] is labels_by_id or not getattr(issue, "label_ids", ()))
        ):
            return hit[3]
        shown = present(issue, labels_by_id, comment_count)
        self._shown[issue.id] = (issue, labels_by_id, comment_count, shown)
        return shown

    def show_all(
        self,
        issues: Sequence[IssueOut],
        labels_by_id: Mapping[str, LabelOut],
        comments_by_issue: Mapping[str, Sized],
    ) -> list[IssueOut]:
        """`show` for each issue, its comment count being `len(comments_by_issue[id])`.

        One loop without calls on the path where nothing changed: a list reads a page of
        issues this way, and this is most of what it costs.
        """
        shown = self._shown
        comments = comments_by_issue.get
        result: list[IssueOut] = []
        for issue in issues:
            count = len(comments(issue.id, ()))
            hit = shown.get(issue.id)
            if (
                hit is not None
                and hit[0] is issue
                and hit[2] == count
                and (hit[1] is labels_by_id or not getattr(issue, "label_ids", ()))
            ):
                result.append(hit[3])
                continue
            fresh = present(issue, labels_by_id, count)
            shown[issue.id] = (issue, labels_by_id, count, fresh)
            result.append(fresh)
        return result

    def trim(self, live: Mapping[str, object]) -> None:
        """Forget deleted issues, once they are a good part of what is kept."""
        if len(self._shown) > 2 * len(live) + 1000:
            self._shown = {k: v for k, v in self._shown.items() if k in live}


_TIMES = ("created_at", "updated_at", "closed_at")


def as_imported(issue: IssueOut) -> IssueOut:
    """`issue` with naive times read as UTC, so it compares with every other issue."""
    naive = {
        name: as_utc(moment)
        for name in _TIMES
        if (moment := getattr(issue, name)) is not None and moment.tzinfo is None
    }
    return issue.model_copy(update=naive) if naive else issue


def add_missing(
    issues: dict[str, StoredIssue],
    imported: Sequence[IssueOut],
    label_ids: Mapping[str, str] | None = None,
) -> int:
    """Add the issues whose ids are not in `issues` yet, in order; return how many.

    `label_ids` maps label keys to ids; names it lacks are dropped (callers create the
    labels first). The comment count is the target's own.
    """
    added = 0
    for issue in imported:
        if issue.id in issues:
            continue
        fields = dict(as_imported(issue).__dict__)
        names = fields.pop("labels", ())
        fields.pop("comment_count", None)
        ids = (label_ids or {}).get
        # Case variants of one name are one label, carried once.
        found = (ids(label_key(name)) for name in names)
        fields["label_ids"] = tuple(dict.fromkeys(i for i in found if i))
        issues[issue.id] = StoredIssue.model_validate(fields)
        added += 1
    return added


def apply_update(
    issues: dict[str, StoredIssue],
    issue_id: str,
    changes: IssueUpdate,
    expected_version: int | None,
    actor: str | None,
    now: datetime,
) -> StoredIssue:
    """Update `issues` in place; return the issue as it now stands."""
    current = issues.get(issue_id)
    if current is None:
        raise IssueNotFound(issue_id)
    check_version(current, expected_version)
    altered = issue_changes(current, changes.changes(), actor, now)
    if not altered:
        return current
    updated = current.model_copy(
        update={**altered, "updated_at": now, "version": current.version + 1}
    )
    issues[issue_id] = updated
    return updated


def apply_label_ids(
    issues: dict[str, StoredIssue],
    issue_id: str,
    edit: Callable[[tuple[str, ...]], tuple[str, ...]],
    expected_version: int | None,
    live_label_ids: Collection[str],
    limit: int,
    now: datetime,
) -> StoredIssue:
    """Replace the issue's label ids with `edit(old ids)`, atomically with the version check.

    Only ids of labels that exist count towards `limit`.
    """
    current = issues.get(issue_id)
    if current is None:
        raise IssueNotFound(issue_id)
    check_version(current, expected_version)
    label_ids = edit(current.label_ids)
    if set(label_ids) == set(current.label_ids):
        return current
    count = sum(1 for i in label_ids if i in live_label_ids)
    if count > limit and count > sum(1 for i in current.label_ids if i in live_label_ids):
        raise TooManyLabels(issue_id, limit)
    updated = current.model_copy(
        update={"label_ids": label_ids, "updated_at": now, "version": current.version + 1}
    )
    issues[issue_id] = updated
    return updated


def drop_label_id(issues: dict[str, StoredIssue], label_id: str) -> None:
    """Take a deleted label's id off every issue that carries it.

    Not a change to the issues themselves: their versions and times stay as they are.
    """
    for issue_id, issue in issues.items():
        if label_id in issue.label_ids:
            kept = tuple(i for i in issue.label_ids if i != label_id)
            issues[issue_id] = issue.model_copy(update={"label_ids": kept})


def apply_delete(
    issues: dict[str, StoredIssue], issue_id: str, expected_version: int | None
) -> None:
    current = issues.get(issue_id)
    if current is None:
        raise IssueNotFound(issue_id)
    check_version(current, expected_version)
    del issues[issue_id]


def _matcher(query: IssueQuery, label_ids: Collection[str]) -> Callable[[StoredIssue], bool] | None:
    tests: list[Callable[[StoredIssue], bool]] = []
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
    if query.due_before is not None:
        due_before = query.due_before
        tests.append(lambda i: i.due_date is not None and i.due_date <= due_before)
    if query.due_after is not None:
        due_after = query.due_after
        tests.append(lambda i: i.due_date is not None and i.due_date >= due_after)
    if label_ids:
        wanted = frozenset(label_ids)
        tests.append(lambda i: wanted.issubset(i.label_ids))
    if query.assignee == ASSIGNEE_NONE:
        tests.append(lambda i: not i.assignees)
    elif query.assignee == ASSIGNEE_ANY:
        tests.append(lambda i: bool(i.assignees))
    elif query.assignee is not None:
        assignee = query.assignee
        tests.append(lambda i: assignee in i.assignees)
    if not tests:
        return None
    return lambda issue: all(test(issue) for test in tests)


def _sorted(issues: list[StoredIssue], sort: str, direction: str) -> list[StoredIssue]:
    key = _SORT_KEYS[sort]
    reverse = direction == "desc"
    if sort not in _NULLS_LAST:
        # sorted() is stable, so ties keep creation order in both directions.
        return sorted(issues, key=key, reverse=reverse)
    keyed = [issue for issue in issues if key(issue) is not None]
    unkeyed = [issue for issue in issues if key(issue) is None]
    return sorted(keyed, key=key, reverse=reverse) + unkeyed


class IssueIndex:
    """Issues by id in creation order, with sorted views cached until the next change."""

    __slots__ = ("_views", "issues")

    def __init__(self, issues: dict[str, StoredIssue] | None = None) -> None:
        self.issues: dict[str, StoredIssue] = issues if issues is not None else {}
        self._views: dict[tuple[str, str], list[StoredIssue]] = {}

    def changed(self) -> None:
        """Drop the cached views; call after every change to `issues`."""
        self._views.clear()

    def _view(self, sort: str, direction: str) -> list[StoredIssue]:
        view = self._views.get((sort, direction))
        if view is None:
            view = _sorted(list(self.issues.values()), sort, direction)
            self._views[(sort, direction)] = view
        return view

    def select(self, query: IssueQuery, label_ids: Collection[str] = ()) -> IssuePage:
        """The page `query` selects, as stored; `label_ids` are the ids of `query.labels`."""
        view = self._view(query.sort, query.direction)
        matches = _matcher(query, label_ids)
        selected = view if matches is None else [i for i in view if matches(i)]
        # A negative offset or limit reads as 0, as in SQL stores, never as Python's "from
        # the end".
        start = max(query.offset, 0)
        end = start + max(query.limit, 0)
        return IssuePage(items=selected[start:end], total=len(selected))
