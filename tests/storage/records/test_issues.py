"""The issue logic the in-process stores share (`_records`): pages of the index, and the
cache of issues as shown."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi_issues import IssueCreate, IssueOut, IssueQuery
from fastapi_issues.storage.records._issues import (
    IssueIndex,
    PresentedIssues,
    StoredIssue,
)
from fastapi_issues.storage.rules import new_issue

_START = datetime(2024, 1, 1, tzinfo=UTC)


def _issues(count: int) -> dict[str, StoredIssue]:
    made = [
        new_issue(
            IssueCreate(title=f"Issue {n}", description="Broken"),
            None,
            _START + timedelta(seconds=n),
            StoredIssue,
        )
        for n in range(count)
    ]
    return {issue.id: issue for issue in made}


def test_pages_and_totals_at_the_edges() -> None:
    index = IssueIndex(_issues(5))
    for offset, limit, titles in [
        (0, 0, []),  # no rows asked for: the total still counts
        (3, 2, ["Issue 3", "Issue 4"]),  # a full last page
        (4, 3, ["Issue 4"]),  # a short last page
        (5, 2, []),  # just past the end
        (9, 2, []),  # far past it
    ]:
        page = index.select(IssueQuery(offset=offset, limit=limit))
        assert [issue.title for issue in page.items] == titles, (offset, limit)
        assert page.total == 5, (offset, limit)
    one = index.select(IssueQuery(text="Issue 4", offset=1))
    assert (list(one.items), one.total) == ([], 1)
    assert index.select(IssueQuery(reporter="nobody", limit=0)).total == 0


def test_sorted_views_follow_changes_once_told() -> None:
    issues = _issues(3)
    index = IssueIndex(issues)
    newest_first = IssueQuery(direction="desc")
    assert [i.title for i in index.select(newest_first).items] == ["Issue 2", "Issue 1", "Issue 0"]
    extra = next(iter(_issues(1).values())).model_copy(
        update={"title": "Issue 3", "created_at": _START + timedelta(days=1)}
    )
    issues[extra.id] = extra
    index.changed()
    assert [i.title for i in index.select(newest_first).items][:2] == ["Issue 3", "Issue 2"]
    assert index.select(newest_first).total == 4


def test_trim_forgets_deleted_issues_and_keeps_the_live_ones() -> None:
    live = _issues(10)
    deleted = _issues(2000)
    shown = PresentedIssues()
    kept = {i: shown.show(issue, {}, 0) for i, issue in live.items()}
    gone = {i: shown.show(issue, {}, 0) for i, issue in list(deleted.items())[:5]}
    # With few deleted issues kept, nothing is dropped yet.
    shown.trim(live)
    for i, issue in deleted.items():
        if i in gone:
            assert shown.show(issue, {}, 0) is gone[i]
    # Once deleted issues are most of what is kept, they go; the live ones stay as shown.
    for issue in deleted.values():
        shown.show(issue, {}, 0)
    shown.trim(live)
    for i, issue in live.items():
        assert shown.show(issue, {}, 0) is kept[i]
    for i, issue in deleted.items():
        if i in gone:
            again = shown.show(issue, {}, 0)
            assert again is not gone[i]
            assert again == gone[i]


def test_a_new_issue_is_the_same_in_the_api_shape_and_as_kept_here() -> None:
    data = IssueCreate(title="Broken", description="It breaks", assignees=["ann"])
    shown = new_issue(data, "bob", _START)
    kept = new_issue(data, "bob", _START, StoredIssue)
    assert type(shown) is IssueOut
    assert type(kept) is StoredIssue
    assert kept.label_ids == ()
    assert shown.id != kept.id
    assert kept.model_dump(exclude={"id", "label_ids"}) == shown.model_dump(exclude={"id"})
    assert (shown.status, shown.version, shown.labels, shown.comment_count) == (
        "open",
        1,
        [],
        0,
    )
    assert (shown.reporter, shown.assignees, shown.created_at) == ("bob", ["ann"], _START)
