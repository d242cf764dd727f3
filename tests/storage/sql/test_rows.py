"""How the SQL store maps issues to rows and queries to statements: derived from the
`issues` table and `IssueOut`, so a new issue field needs a column and nothing else."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from fastapi_issues.schemas import (
    IssueOut,
    IssuePriority,
    IssueStatus,
    StateReason,
)
from fastapi_issues.storage.query import ASSIGNEE_ANY, ASSIGNEE_NONE, IssueQuery
from fastapi_issues.storage.sql._issue_list import QueryShape, list_shape
from fastapi_issues.storage.sql._schema import ISSUE_COLUMNS, PRIORITY_RANK, issues
from fastapi_issues.storage.sql._shared import changed_columns, issue_row

# Read from other tables: labels, assignees and comments.
_NOT_COLUMNS = {"labels", "assignees", "comment_count"}


def _closed_issue(moment: datetime) -> IssueOut:
    return IssueOut(
        id="i-1",
        title="Crash",
        description="on start",
        priority=IssuePriority.high,
        status=IssueStatus.closed,
        created_at=moment,
        updated_at=moment + timedelta(hours=1),
        reporter="ada",
        version=3,
        state_reason=StateReason.completed,
        closed_at=moment + timedelta(hours=1),
        closed_by="grace",
        due_date=date(2024, 5, 31),
    )


def test_every_issue_field_but_the_looked_up_ones_has_a_column() -> None:
    # A field without a column would be dropped on every write, silently.
    columns = {column.name for column in ISSUE_COLUMNS}
    assert columns == set(IssueOut.model_fields) - _NOT_COLUMNS
    assert columns <= set(issues.c.keys())


def test_an_issue_becomes_every_column_but_seq_with_values_the_database_takes() -> None:
    naive = datetime(2024, 5, 1, 12, 30)
    row = issue_row(_closed_issue(naive))
    assert set(row) == set(issues.c.keys()) - {"seq"}
    utc = naive.replace(tzinfo=UTC)
    assert row == {
        "id": "i-1",
        "title": "Crash",
        "description": "on start",
        "priority": "high",
        "priority_rank": PRIORITY_RANK["high"],
        "status": "closed",
        "created_at": utc,
        "updated_at": utc + timedelta(hours=1),
        "reporter": "ada",
        "version": 3,
        "state_reason": "completed",
        "closed_at": utc + timedelta(hours=1),
        "closed_by": "grace",
        "due_date": date(2024, 5, 31),
    }
    # Enum values go in as plain strings, not as the str-enum members.
    assert type(row["priority"]) is str
    assert type(row["state_reason"]) is str


def test_an_update_writes_all_but_what_is_set_once() -> None:
    moment = datetime(2024, 5, 1, tzinfo=UTC)
    issue = _closed_issue(moment)
    changed = changed_columns(issue)
    assert set(changed) == set(issues.c.keys()) - {"seq", "id", "created_at", "reporter"}
    assert {k: v for k, v in issue_row(issue).items() if k in changed} == changed


def test_open_issues_write_nulls_for_their_closing_columns() -> None:
    moment = datetime(2024, 5, 1, tzinfo=UTC)
    issue = _closed_issue(moment).model_copy(
        update={
            "status": IssueStatus.open,
            "state_reason": None,
            "closed_at": None,
            "closed_by": None,
        }
    )
    row = issue_row(issue)
    assert (row["state_reason"], row["closed_at"], row["closed_by"]) == (None, None, None)


def test_a_query_shape_names_what_the_statement_depends_on() -> None:
    plain = list_shape(IssueQuery())
    assert plain == QueryShape(
        status=False,
        priority=False,
        reporter=False,
        text=False,
        created_since=False,
        updated_since=False,
        due_before=False,
        due_after=False,
        sort=plain.sort,
        direction=plain.direction,
        labels=False,
        assignee=None,
    )
    assert list_shape(IssueQuery(labels=["bug"], reporter="")).labels
    assert list_shape(IssueQuery(reporter="")).reporter
    assert list_shape(IssueQuery(assignee="ada")).assignee == "name"
    assert list_shape(IssueQuery(assignee=ASSIGNEE_NONE)).assignee == "none"
    assert list_shape(IssueQuery(assignee=ASSIGNEE_ANY)).assignee == "any"
    # Only which filters are given decides the shape, not their values.
    assert list_shape(IssueQuery(reporter="ada")) == list_shape(IssueQuery(reporter="grace"))
    assert list_shape(IssueQuery(due_before=date(2024, 1, 1))).due_before
    assert list_shape(IssueQuery(due_after=date.min)) == list_shape(IssueQuery(due_after=date.max))
