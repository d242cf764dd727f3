"""`storage.rules.issue_events` and `comment_event`: the events one write records."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi_issues.schemas import (
    CommentOut,
    EventType,
    IssueOut,
    IssuePriority,
    IssueStatus,
    StateReason,
)
from fastapi_issues.storage.rules import comment_event, issue_events

_NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def _issue(**fields: Any) -> IssueOut:
    base: dict[str, Any] = {
        "id": "i-1",
        "title": "Crash",
        "description": "",
        "priority": IssuePriority.medium,
        "status": IssueStatus.open,
        "created_at": _NOW,
        "updated_at": _NOW,
    }
    return IssueOut(**{**base, **fields})


def _closed(reason: StateReason = StateReason.completed, **fields: Any) -> IssueOut:
    return _issue(status=IssueStatus.closed, state_reason=reason, closed_at=_NOW, **fields)


def _comment(body: str) -> CommentOut:
    return CommentOut(
        id="c-1", issue_id="i-1", body=body, author="ada", created_at=_NOW, updated_at=_NOW
    )


def _types(before: IssueOut | None, after: IssueOut | None) -> list[EventType]:
    return [draft.type for draft in issue_events(before, after)]


def test_creation_records_the_issue() -> None:
    after = _issue()
    [created] = issue_events(None, after)
    assert (created.type, created.issue_id, created.issue, created.changes) == (
        EventType.ISSUE_CREATED,
        "i-1",
        after,
        None,
    )


def test_deletion_records_no_issue() -> None:
    [deleted] = issue_events(_issue(), None)
    assert (deleted.type, deleted.issue_id, deleted.issue, deleted.changes) == (
        EventType.ISSUE_DELETED,
        "i-1",
        None,
        None,
    )


def test_closing_records_status_and_reason() -> None:
    after = _closed(StateReason.not_planned)
    [closed] = issue_events(_issue(), after)
    assert closed.type == EventType.ISSUE_CLOSED
    assert closed.changes == {
        "status": {"from": "open", "to": "closed"},
        "state_reason": {"from": None, "to": "not_planned"},
    }
    assert closed.issue == after


def test_reopening_records_status_and_reason() -> None:
    [reopened] = issue_events(_closed(), _issue(status=IssueStatus.in_progress))
    assert reopened.type == EventType.ISSUE_REOPENED
    assert reopened.changes == {
        "status": {"from": "closed", "to": "in_progress"},
        "state_reason": {"from": "completed", "to": None},
    }


def test_a_new_reason_on_a_closed_issue_is_an_update() -> None:
    [updated] = issue_events(_closed(), _closed(StateReason.duplicate))
    assert updated.type == EventType.ISSUE_UPDATED
    assert updated.changes == {"state_reason": {"from": "completed", "to": "duplicate"}}


def test_in_progress_to_open_is_an_update() -> None:
    [updated] = issue_events(_issue(status=IssueStatus.in_progress), _issue())
    assert updated.type == EventType.ISSUE_UPDATED
    assert updated.changes == {"status": {"from": "in_progress", "to": "open"}}


def test_plain_fields_record_json_values() -> None:
    before = _issue()
    after = _issue(title="Crash on start", priority=IssuePriority.high, due_date="2026-02-01")
    [updated] = issue_events(before, after)
    assert updated.changes == {
        "title": {"from": "Crash", "to": "Crash on start"},
        "priority": {"from": "medium", "to": "high"},
        "due_date": {"from": None, "to": "2026-02-01"},
    }


def test_labels_added_and_removed_in_one_write_give_both_events() -> None:
    before, after = _issue(labels=["bug", "ui"]), _issue(labels=["bug", "docs"])
    labeled, unlabeled = issue_events(before, after)
    assert (labeled.type, unlabeled.type) == (EventType.ISSUE_LABELED, EventType.ISSUE_UNLABELED)
    change = {"labels": {"from": ["bug", "ui"], "to": ["bug", "docs"]}}
    assert labeled.changes == unlabeled.changes == change


def test_assignees_added_and_removed() -> None:
    assert _types(_issue(), _issue(assignees=["ada"])) == [EventType.ISSUE_ASSIGNED]
    assert _types(_issue(assignees=["ada"]), _issue()) == [EventType.ISSUE_UNASSIGNED]


def test_several_kinds_in_one_write_come_in_type_order() -> None:
    before = _issue(labels=["ui"], assignees=["bob"])
    after = _closed(title="New", labels=["bug"], assignees=["ada"])
    assert _types(before, after) == [
        EventType.ISSUE_UPDATED,
        EventType.ISSUE_CLOSED,
        EventType.ISSUE_LABELED,
        EventType.ISSUE_UNLABELED,
        EventType.ISSUE_ASSIGNED,
        EventType.ISSUE_UNASSIGNED,
    ]


def test_nothing_changed_records_nothing() -> None:
    assert issue_events(_issue(), _issue(version=2, updated_at=datetime.now(UTC))) == []
    assert issue_events(None, None) == []


def test_comment_events() -> None:
    issue = _issue()
    created = comment_event(None, _comment("Hi"), issue)
    assert created is not None
    assert (created.type, created.issue_id, created.comment, created.issue) == (
        EventType.COMMENT_CREATED,
        "i-1",
        _comment("Hi"),
        issue,
    )
    edited = comment_event(_comment("Hi"), _comment("Hello"), issue)
    assert edited is not None
    assert edited.type == EventType.COMMENT_UPDATED
    assert edited.changes == {"body": {"from": "Hi", "to": "Hello"}}
    deleted = comment_event(_comment("Hi"), None, issue)
    assert deleted is not None
    assert (deleted.type, deleted.comment) == (EventType.COMMENT_DELETED, _comment("Hi"))


def test_a_comment_edit_with_the_same_body_records_nothing() -> None:
    assert comment_event(_comment("Hi"), _comment("Hi"), _issue()) is None


def test_a_draft_numbered_is_the_logged_event() -> None:
    [draft] = issue_events(_issue(), _closed())
    event = draft.numbered(7, "ada", _NOW)
    assert (event.id, event.actor, event.created_at, event.type) == (
        7,
        "ada",
        _NOW,
        EventType.ISSUE_CLOSED,
    )
    assert event.changes == draft.changes
