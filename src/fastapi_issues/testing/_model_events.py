"""The reference model's event log: what every write must record, derived here from the
issue or comment before and after the write, in plain Python.

Like the rest of the model it shares no code with the stores (not `storage.rules` either),
so a wrong rule there shows up as a disagreement with this one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum
from typing import Any

from fastapi_issues.schemas import CommentOut, EventOut, EventType, IssueOut, IssueStatus

__all__ = ["ModelEventLog"]

_PLAIN = ("title", "description", "priority", "due_date")
_STATE = ("status", "state_reason")


def _plain_json(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, date):  # datetime is a date too, but no event field holds one
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return list(value)
    return value


def _diff(before: IssueOut, after: IssueOut, names: Sequence[str]) -> dict[str, Any]:
    return {
        name: {"from": _plain_json(getattr(before, name)), "to": _plain_json(getattr(after, name))}
        for name in names
        if getattr(before, name) != getattr(after, name)
    }


def _issue_write(before: IssueOut, after: IssueOut) -> list[tuple[EventType, dict[str, Any]]]:
    """The (type, changes) of an edit, in the order `EventType` lists the kinds."""
    was_closed = before.status == IssueStatus.closed
    is_closed = after.status == IssueStatus.closed
    toggled = was_closed != is_closed
    found: list[tuple[EventType, dict[str, Any]]] = []
    plain = _diff(before, after, _PLAIN if toggled else (*_PLAIN, *_STATE))
    # Keep the order of the fields as the issue declares them.
    order = ("title", "description", "priority", "status", "state_reason", "due_date")
    found.append((EventType.ISSUE_UPDATED, {k: plain[k] for k in order if k in plain}))
    if toggled:
        kind = EventType.ISSUE_CLOSED if is_closed else EventType.ISSUE_REOPENED
        found.append((kind, _diff(before, after, _STATE)))
    for name, added, removed in (
        ("labels", EventType.ISSUE_LABELED, EventType.ISSUE_UNLABELED),
        ("assignees", EventType.ISSUE_ASSIGNED, EventType.ISSUE_UNASSIGNED),
    ):
        old, new = set(getattr(before, name)), set(getattr(after, name))
        change = _diff(before, after, (name,))
        found.append((added, change if new - old else {}))
        found.append((removed, change if old - new else {}))
    return [(kind, changes) for kind, changes in found if changes]


@dataclass
class ModelEventLog:
    """Every event recorded, oldest first. Ids are the model's own until the suite tells
    it the ids the store gave (`adopt_ids`): a store numbers them as it likes, as long as
    they grow."""

    events: list[EventOut] = field(default_factory=list)
    last_id: int = 0
    unconfirmed: int = 0

    def _add(
        self,
        kind: EventType,
        issue_id: str,
        actor: str | None,
        now: datetime,
        *,
        changes: dict[str, Any] | None = None,
        issue: IssueOut | None = None,
        comment: CommentOut | None = None,
    ) -> None:
        self.last_id += 1
        self.unconfirmed += 1
        event = EventOut(
            id=self.last_id,
            type=kind,
            issue_id=issue_id,
            actor=actor,
            created_at=now,
            changes=changes,
            issue=issue,
            comment=comment,
        )
        self.events.append(event)

    def issue_written(
        self, before: IssueOut | None, after: IssueOut | None, actor: str | None, now: datetime
    ) -> None:
        """Record what turning `before` into `after` means (None: not there)."""
        if before is None and after is not None:
            self._add(EventType.ISSUE_CREATED, after.id, actor, now, issue=after)
        elif after is None and before is not None:
            self._add(EventType.ISSUE_DELETED, before.id, actor, now)
        elif before is not None and after is not None:
            for kind, changes in _issue_write(before, after):
                self._add(kind, after.id, actor, now, changes=changes, issue=after)

    def comment_written(
        self,
        before: CommentOut | None,
        after: CommentOut | None,
        issue: IssueOut,
        actor: str | None,
        now: datetime,
    ) -> None:
        """Record a comment posted (`before` None), edited, or deleted (`after` None)."""
        if before is None and after is not None:
            self._add(EventType.COMMENT_CREATED, issue.id, actor, now, issue=issue, comment=after)
        elif after is None and before is not None:
            self._add(EventType.COMMENT_DELETED, issue.id, actor, now, issue=issue, comment=before)
        elif before is not None and after is not None and before.body != after.body:
            changes = {"body": {"from": before.body, "to": after.body}}
            self._add(
                EventType.COMMENT_UPDATED,
                issue.id,
                actor,
                now,
                changes=changes,
                issue=issue,
                comment=after,
            )

    # -- what the suite compares ---------------------------------------------------------

    def unconfirmed_events(self) -> list[EventOut]:
        """The events recorded since the suite last adopted the store's ids."""
        return self.events[len(self.events) - self.unconfirmed :] if self.unconfirmed else []

    def adopt_ids(self, ids: Sequence[int]) -> None:
        """Number the unconfirmed events as the store did (the suite checked the ids grow)."""
        assert len(ids) == self.unconfirmed
        start = len(self.events) - self.unconfirmed
        for offset, event_id in enumerate(ids):
            self.events[start + offset] = self.events[start + offset].model_copy(
                update={"id": event_id}
            )
        if ids:
            self.last_id = max(self.last_id, ids[-1])
        self.unconfirmed = 0

    def after(
        self,
        after: int,
        limit: int,
        types: frozenset[EventType] | None = None,
        issue_id: str | None = None,
    ) -> list[EventOut]:
        """`list_events`: ascending by id, after `after`, filtered, at most `limit`."""
        picked = [
            event
            for event in self.events
            if event.id > after
            and (types is None or event.type in types)
            and (issue_id is None or event.issue_id == issue_id)
        ]
        return picked[: max(limit, 0)]

    def timeline(self, issue_id: str, offset: int, limit: int) -> tuple[list[EventOut], int]:
        """`issue_events`, for an issue the caller knows exists."""
        mine = [event for event in self.events if event.issue_id == issue_id]
        start = max(offset, 0)
        return mine[start : start + max(limit, 0)], len(mine)

    def newest_id(self) -> int:
        """`last_event_id`: what the store numbered last, also once pruned."""
        return self.last_id

    def prune(self, before: datetime) -> int:
        """`prune_events`: drop what was made before `before`; return how many."""
        kept = [event for event in self.events if event.created_at >= before]
        dropped = len(self.events) - len(kept)
        self.events = kept
        return dropped
