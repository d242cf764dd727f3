"""Rules every store applies the same way, whatever it keeps its data in.

Stores call these instead of restating them, so closing an issue or matching a label name
means the same thing in memory, in a JSON file and in SQL.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from fastapi_issues.schemas import IssueOut, IssueStatus, StateReason
from fastapi_issues.storage.errors import InvalidIssueChange

__all__ = ["closing_changes", "issue_changes", "label_key", "label_sort_key"]


def label_key(name: str) -> str:
    """What label names are compared by: `Bug`, `BUG` and `bug` are one label."""
    return name.casefold()


def label_sort_key(name: str) -> tuple[str, str]:
    """Orders label names ignoring case, and case variants the same way every time."""
    return (name.casefold(), name)


def closing_changes(
    current: IssueOut, requested: Mapping[str, object], actor: str | None, now: datetime
) -> dict[str, object]:
    """The closing fields (`closed_at`, `closed_by`, `state_reason`) an update implies.

    `requested` holds the fields the client sent (`IssueUpdate.changes()`). Closing an issue
    records when, by whom and why (`completed` unless a reason is sent); sending a reason for
    an issue that is already closed changes only the reason; any other status clears all
    three. A reason for an issue that stays open raises `InvalidIssueChange`.
    """
    status = requested.get("status", current.status)
    reason = requested.get("state_reason")
    if status == IssueStatus.closed:
        if current.status != IssueStatus.closed:
            return {
                "closed_at": now,
                "closed_by": actor,
                "state_reason": reason or StateReason.completed,
            }
        if reason is not None and reason != current.state_reason:
            return {"state_reason": reason}
        return {}
    if reason is not None:
        raise InvalidIssueChange(
            current.id, "state_reason", "state_reason can only be set on a closed issue"
        )
    if current.status == IssueStatus.closed:
        return {"closed_at": None, "closed_by": None, "state_reason": None}
    return {}


def issue_changes(
    current: IssueOut, requested: Mapping[str, object], actor: str | None, now: datetime
) -> dict[str, object]:
    """The fields an update changes: those sent that differ, and what closing implies.

    Empty when the update changes nothing; otherwise the store also sets `updated_at` to
    `now` and adds one to `version`.
    """
    changed = {
        name: value
        for name, value in requested.items()
        if name != "state_reason" and getattr(current, name) != value
    }
    changed.update(closing_changes(current, requested, actor, now))
    return changed
