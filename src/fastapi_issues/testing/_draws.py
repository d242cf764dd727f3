"""What the model-based suite draws from: small pools of values, so that draws collide, and
the strategies built from them."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from hypothesis import strategies as st

from fastapi_issues.schemas import (
    IssueCreate,
    IssueOut,
    IssuePriority,
    IssueStatus,
    IssueUpdate,
    StateReason,
)

__all__ = [
    "DUE_DATES",
    "LABEL_NAMES",
    "MICROSECOND",
    "TEXTS",
    "UNKNOWN_ID",
    "USERS",
    "WORDS",
    "assignee_lists",
    "clock_steps",
    "comment_bodies",
    "due_cut_points",
    "due_dates",
    "imported_issues",
    "issue_changes",
    "issue_descriptions",
    "issue_titles",
    "label_colors",
    "maybe_users",
    "new_issues",
]

# Small pools, so that draws collide: the same user reports, is assigned and filtered by;
# label names differ only in case; titles share words in different cases and scripts.
USERS = ("ada", "bob", "Ada")
LABEL_NAMES = ("bug", "Bug", "ui", "UI", "docs", "straße", "STRASSE", "wontfix")
WORDS = ("Login", "login", "crash", "Crash", "éclair", "ÉCLAIR", "100%", "a_b", "zed", "Zed")
TEXTS = (*WORDS, "LOG", "%", "_", "b", "é", "É", "cr", "0% ", "nothing like it")
MICROSECOND = timedelta(microseconds=1)  # the smallest step a stored time can differ by
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"  # the id of an issue that never was
# Few, so that issues share a due date (the sort's tie-break), across a month's and a leap
# day's end, and the extremes a date can take.
DUE_DATES = (
    date(2024, 2, 28),
    date(2024, 2, 29),
    date(2024, 3, 1),
    date(1, 1, 1),
    date(9999, 12, 31),
)
_DAY = timedelta(days=1)

# What the rules draw: issue fields, who acts, comment bodies, label colours, clock steps.
_words = st.lists(st.sampled_from(WORDS), min_size=1, max_size=3).map(" ".join)
issue_titles = _words  # every word is 3 characters or more, as titles must be
issue_descriptions = st.tuples(_words, _words).map(" - ".join)
assignee_lists = st.lists(st.sampled_from(USERS), unique=True, max_size=2)
maybe_users = st.none() | st.sampled_from(USERS)
# None half the time: the sort puts those last, and the filters never match them.
due_dates = st.none() | st.sampled_from(DUE_DATES)
due_cut_points = st.builds(
    lambda day, shift: day + shift if date.min + _DAY <= day <= date.max - _DAY else day,
    st.sampled_from(DUE_DATES),
    st.sampled_from((timedelta(0), _DAY, -_DAY)),
)
"""Where the due date filters cut: on a due date the issues may have, or a day to either
side (the filters are inclusive)."""
new_issues = st.builds(
    IssueCreate,
    title=issue_titles,
    description=issue_descriptions,
    priority=st.sampled_from(IssuePriority),
    assignees=assignee_lists,
    due_date=due_dates,
)
comment_bodies = st.sampled_from(("Me too.", "Fixed in main.", "me too."))
clock_steps = st.sampled_from([timedelta(0), MICROSECOND, timedelta(seconds=1), timedelta(days=3)])
label_colors = st.sampled_from(("ededed", "d73a4a", "0e8a16"))


def issue_changes() -> st.SearchStrategy[IssueUpdate]:
    """Updates of any mix of an issue's fields, closing reasons included."""
    fields = st.fixed_dictionaries(
        {},
        optional={
            "title": issue_titles,
            "description": issue_descriptions,
            "priority": st.sampled_from(IssuePriority),
            "status": st.sampled_from(IssueStatus),
            "assignees": assignee_lists,
            "state_reason": st.sampled_from(StateReason),
            "due_date": due_dates,  # None sent clears it
        },
    )
    return fields.map(lambda sent: IssueUpdate(**sent))


def imported_issues(
    ids: st.SearchStrategy[str],
    times: st.SearchStrategy[datetime],
    labels: st.SearchStrategy[list[str]],
) -> st.SearchStrategy[IssueOut]:
    """Issues from another store, with these ids, creation times and label names."""
    closed = st.tuples(st.sampled_from(StateReason), st.none() | st.sampled_from(USERS))
    return st.builds(
        _imported,
        issue_id=ids,
        title=issue_titles,
        description=issue_descriptions,
        priority=st.sampled_from(IssuePriority),
        status=st.sampled_from(IssueStatus),
        created_at=times,
        later=clock_steps,
        reporter=maybe_users,
        version=st.integers(1, 4),
        assignees=assignee_lists,
        labels=labels,
        closing=closed,
        naive=st.booleans(),
        due_date=due_dates,
    )


def _imported(
    issue_id: str,
    title: str,
    description: str,
    priority: IssuePriority,
    status: IssueStatus,
    created_at: datetime,
    later: timedelta,
    reporter: str | None,
    version: int,
    assignees: list[str],
    labels: list[str],
    closing: tuple[StateReason, str | None],
    naive: bool,
    due_date: date | None,
) -> IssueOut:
    """An issue from another store; with `naive`, its times lack a zone (read as UTC)."""
    closed = status == IssueStatus.closed
    if naive:
        created_at = created_at.replace(tzinfo=None)
    return IssueOut(
        id=issue_id,
        title=title,
        description=description,
        priority=priority,
        status=status,
        created_at=created_at,
        updated_at=created_at + later,
        reporter=reporter,
        version=version,
        assignees=sorted(assignees),
        labels=labels,
        state_reason=closing[0] if closed else None,
        closed_at=created_at + later if closed else None,
        closed_by=closing[1] if closed else None,
        due_date=due_date,
    )
