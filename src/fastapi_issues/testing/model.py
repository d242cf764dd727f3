"""The reference model: what a tracker store means, in plain Python, with no shortcuts.

The model-based suite (`fastapi_issues.testing.stateful`) runs the same operations on a store
and on this model and demands the same answers. It shares no code with the stores on purpose
(not even `storage.rules`): a rule stated twice, once simply here and once quickly there, is
how a wrong fast path gets caught.

The model is told what it cannot know itself: the ids a store assigns and the time (the suite
gives store and model one clock). Every method raises before it changes anything. Where several
errors apply, the one raised is the first of: the issue is missing (`IssueNotFound`), the
expected version is stale (`VersionConflict`), then whatever is wrong with the request's
content (`LabelNotFound`, `TooManyLabels`, `InvalidIssueChange`, `CommentNotFound`, ...).
That is HTTP's order too: a precondition is judged before the request's content is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from fastapi_issues.schemas import (
    MAX_LABELS_PER_ISSUE,
    CommentOut,
    EventOut,
    EventType,
    IssueCreate,
    IssueOut,
    IssuePriority,
    IssueStatus,
    IssueUpdate,
    LabelCreate,
    LabelOut,
    LabelUpdate,
    StateReason,
)
from fastapi_issues.storage.deliveries import FINISHED_KEPT
from fastapi_issues.storage.errors import (
    CommentNotFound,
    CommentVersionConflict,
    DuplicateLabel,
    InvalidIssueChange,
    IssueNotFound,
    LabelNotFound,
    TooManyLabels,
    VersionConflict,
)
from fastapi_issues.storage.query import ASSIGNEE_ANY, ASSIGNEE_NONE, IssueQuery
from fastapi_issues.testing._model_events import ModelEventLog
from fastapi_issues.testing._model_hooks import ModelHooks

__all__ = ["ModelPage", "TrackerModel"]

_RANK = {IssuePriority.low: 0, IssuePriority.medium: 1, IssuePriority.high: 2}


@dataclass(frozen=True)
class ModelPage:
    """What a list call must return: the ids in order, and the total that match."""

    ids: list[str]
    total: int


@dataclass
class _Issue:
    issue: IssueOut  # labels and comment_count are filled in when shown
    label_ids: frozenset[int] = frozenset()


@dataclass
class _Label:
    id: int  # the model's own: a store's label ids are not always known (see `import_issues`)
    name: str
    color: str
    description: str
    store_id: str | None = None


@dataclass
class TrackerModel:
    """Issues, labels and comments as the protocols in `fastapi_issues.storage` describe them.

    Dicts keep insertion order, which is creation (or import) order: the tie-break of every
    issue sort and the order of every issue's comments.
    """

    issues: dict[str, _Issue] = field(default_factory=dict)
    labels: dict[int, _Label] = field(default_factory=dict)
    comments: dict[str, CommentOut] = field(default_factory=dict)
    log: ModelEventLog = field(default_factory=ModelEventLog)
    """The events every write records (see `EventStore`); imports record none."""
    deliveries_kept: int = FINISHED_KEPT
    """How many finished deliveries each hook keeps (the store's `deliveries_kept`)."""
    hooks: ModelHooks = field(init=False)
    """Webhooks and their deliveries, over `log` (see `HookStore`)."""
    _next_label: int = 0

    def __post_init__(self) -> None:
        self.hooks = ModelHooks(self.log, self.deliveries_kept)

    # -- issues --------------------------------------------------------------------------

    def create(
        self, issue_id: str, data: IssueCreate, reporter: str | None, now: datetime
    ) -> IssueOut:
        issue = IssueOut(
            id=issue_id,
            title=data.title,
            description=data.description,
            priority=data.priority,
            status=IssueStatus.open,
            created_at=now,
            updated_at=now,
            reporter=reporter,
            version=1,
            assignees=sorted(data.assignees),
            due_date=data.due_date,
        )
        self.issues[issue_id] = _Issue(issue)
        created = self.get(issue_id)
        self.log.issue_written(None, created, reporter, now)
        return created

    def get(self, issue_id: str) -> IssueOut:
        stored = self._issue(issue_id, None)
        names = [label.name for label in self._labels_of(stored)]
        comments = sum(1 for c in self.comments.values() if c.issue_id == issue_id)
        return stored.issue.model_copy(
            update={"labels": sorted(names, key=_label_order), "comment_count": comments}
        )

    def update(
        self,
        issue_id: str,
        changes: IssueUpdate,
        expected_version: int | None,
        actor: str | None,
        now: datetime,
    ) -> IssueOut:
        stored = self._issue(issue_id, expected_version)
        old = stored.issue
        sent = {name: getattr(changes, name) for name in changes.model_fields_set}
        new = {k: v for k, v in sent.items() if k != "state_reason" and getattr(old, k) != v}
        new.update(_closing(old, sent, actor, now))
        before = self.get(issue_id)
        if new:
            new.update(updated_at=now, version=old.version + 1)
            stored.issue = old.model_copy(update=new)
        after = self.get(issue_id)
        self.log.issue_written(before, after, actor, now)
        return after

    def delete(
        self,
        issue_id: str,
        expected_version: int | None,
        actor: str | None = None,
        now: datetime | None = None,
    ) -> None:
        self._issue(issue_id, expected_version)
        before = self.get(issue_id)
        del self.issues[issue_id]
        self.comments = {k: c for k, c in self.comments.items() if c.issue_id != issue_id}
        self.log.issue_written(before, None, actor, _when(now))

    def list(self, query: IssueQuery) -> ModelPage:
        matching = [s.issue for s in self.issues.values() if self._matches(s, query)]
        # sorted() is stable, also with reverse=True: equal keys keep creation order.
        # Issues without a due date come last in both directions, in creation order.
        key = _SORT_KEYS[query.sort]
        keyed = [issue for issue in matching if key(issue) is not None]
        ordered = sorted(keyed, key=key, reverse=query.direction == "desc")
        ordered += [issue for issue in matching if key(issue) is None]
        start = max(query.offset, 0)
        page = ordered[start : start + max(query.limit, 0)]
        return ModelPage([issue.id for issue in page], len(matching))

    def import_issues(self, issues: Sequence[IssueOut]) -> int:
        added = 0
        for issue in issues:
            if issue.id in self.issues:
                continue
            label_ids = frozenset(self._label_named(name).id for name in issue.labels)
            times = {k: _utc(getattr(issue, k)) for k in ("created_at", "updated_at", "closed_at")}
            plain = issue.model_copy(update={"labels": [], "comment_count": 0, **times})
            self.issues[issue.id] = _Issue(plain, label_ids)
            added += 1
        return added

    # -- labels --------------------------------------------------------------------------

    def create_label(self, data: LabelCreate, store_id: str) -> LabelOut:
        if self._find_label(data.name) is not None:
            raise DuplicateLabel(data.name)
        label = self._add_label(data.name, data.color, data.description)
        label.store_id = store_id
        return _label_out(label)

    def get_label(self, name: str) -> LabelOut:
        return _label_out(self._label(name))

    def list_labels(self, offset: int, limit: int) -> tuple[Sequence[LabelOut], int]:
        ordered = sorted(self.labels.values(), key=lambda label: _label_order(label.name))
        page = ordered[offset : offset + limit]
        return [_label_out(label) for label in page], len(ordered)

    def update_label(self, name: str, changes: LabelUpdate) -> LabelOut:
        label = self._label(name)
        new_name = changes.name if "name" in changes.model_fields_set else None
        renamed = new_name is not None and _key(new_name) != _key(label.name)
        if renamed and self._find_label(str(new_name)) is not None:
            raise DuplicateLabel(str(new_name))
        for name_ in changes.model_fields_set:
            setattr(label, name_, getattr(changes, name_))
        return _label_out(label)

    def delete_label(
        self, name: str, actor: str | None = None, now: datetime | None = None
    ) -> None:
        label = self._label(name)
        carrying = [i for i, stored in self.issues.items() if label.id in stored.label_ids]
        before = {issue_id: self.get(issue_id) for issue_id in carrying}
        del self.labels[label.id]
        # The issues lose the label; it is the label that changed, so versions stay.
        for stored in self.issues.values():
            stored.label_ids = stored.label_ids - {label.id}
        # Each issue that carried it records losing it, in creation order.
        for issue_id in carrying:
            self.log.issue_written(before[issue_id], self.get(issue_id), actor, _when(now))

    def set_issue_labels(
        self,
        issue_id: str,
        names: Sequence[str],
        expected_version: int | None,
        now: datetime,
        actor: str | None = None,
    ) -> IssueOut:
        stored = self._issue(issue_id, expected_version)
        return self._relabel(stored, self._label_ids(names), now, actor)

    def add_issue_labels(
        self,
        issue_id: str,
        names: Sequence[str],
        expected_version: int | None,
        now: datetime,
        actor: str | None = None,
    ) -> IssueOut:
        stored = self._issue(issue_id, expected_version)
        return self._relabel(stored, stored.label_ids | self._label_ids(names), now, actor)

    def remove_issue_labels(
        self,
        issue_id: str,
        names: Sequence[str],
        expected_version: int | None,
        now: datetime,
        actor: str | None = None,
    ) -> IssueOut:
        stored = self._issue(issue_id, expected_version)
        return self._relabel(stored, stored.label_ids - self._label_ids(names), now, actor)

    def import_labels(self, labels: Iterable[LabelOut]) -> int:
        added = 0
        for label in labels:
            taken_ids = {known.store_id for known in self.labels.values()}
            if label.id in taken_ids or self._find_label(label.name) is not None:
                continue
            self._add_label(label.name, label.color, label.description).store_id = label.id
            added += 1
        return added

    # -- comments ------------------------------------------------------------------------

    def create_comment(
        self, issue_id: str, comment_id: str, body: str, author: str | None, now: datetime
    ) -> CommentOut:
        self._issue(issue_id, None)
        comment = CommentOut(
            id=comment_id,
            issue_id=issue_id,
            body=body,
            author=author,
            created_at=now,
            updated_at=now,
            version=1,
        )
        self.comments[comment_id] = comment
        self.log.comment_written(None, comment, self.get(issue_id), author, now)
        return comment

    def get_comment(self, issue_id: str, comment_id: str) -> CommentOut:
        return self._comment(issue_id, comment_id, None)

    def list_comments(
        self, issue_id: str, offset: int, limit: int, since: datetime | None
    ) -> tuple[Sequence[CommentOut], int]:
        self._issue(issue_id, None)
        selected = [
            c
            for c in self.comments.values()
            if c.issue_id == issue_id and (since is None or c.updated_at >= since)
        ]
        return selected[offset : offset + limit], len(selected)

    def update_comment(
        self,
        issue_id: str,
        comment_id: str,
        body: str,
        expected_version: int | None,
        now: datetime,
        actor: str | None = None,
    ) -> CommentOut:
        comment = self._comment(issue_id, comment_id, expected_version)
        if comment.body == body:
            return comment
        edited = comment.model_copy(
            update={"body": body, "updated_at": now, "version": comment.version + 1}
        )
        self.comments[comment_id] = edited
        self.log.comment_written(comment, edited, self.get(issue_id), actor, now)
        return edited

    def delete_comment(
        self,
        issue_id: str,
        comment_id: str,
        expected_version: int | None,
        actor: str | None = None,
        now: datetime | None = None,
    ) -> None:
        comment = self._comment(issue_id, comment_id, expected_version)
        del self.comments[comment_id]
        self.log.comment_written(comment, None, self.get(issue_id), actor, _when(now))

    # -- events --------------------------------------------------------------------------

    def list_events(
        self,
        after: int = 0,
        limit: int = 100,
        types: frozenset[EventType] | None = None,
        issue_id: str | None = None,
    ) -> Sequence[EventOut]:
        """`EventStore.list_events`: ascending by id, after `after`, at most `limit`."""
        return self.log.after(after, limit, types, issue_id)

    def issue_events(
        self, issue_id: str, offset: int, limit: int
    ) -> tuple[Sequence[EventOut], int]:
        """`EventStore.issue_events`: one issue's timeline, oldest first, and its size;
        `IssueNotFound` once the issue is gone."""
        self._issue(issue_id, None)
        return self.log.timeline(issue_id, offset, limit)

    def last_event_id(self) -> int:
        """`EventStore.last_event_id`: the newest id given, kept when pruned."""
        return self.log.newest_id()

    def prune_events(self, before: datetime) -> int:
        """`EventStore.prune_events`: drop events made before `before`; how many."""
        return self.log.prune(before)

    def import_comments(self, comments: Iterable[CommentOut]) -> int:
        added = 0
        for comment in comments:
            if comment.id in self.comments or comment.issue_id not in self.issues:
                continue
            self.comments[comment.id] = comment
            added += 1
        return added

    # -- what the suite draws from -------------------------------------------------------

    def timestamps(self) -> Sequence[datetime]:
        """Every time stored on an issue or a comment: the cut points worth filtering at."""
        times = {t for s in self.issues.values() for t in (s.issue.created_at, s.issue.updated_at)}
        times.update(t for c in self.comments.values() for t in (c.created_at, c.updated_at))
        return sorted(times)

    def label_store_id(self, name: str) -> str | None:
        """The id the store gave the label, once known."""
        return self._label(name).store_id

    def learn_label_id(self, name: str, store_id: str) -> None:
        """Record the id a store chose for a label the model made itself (on import)."""
        label = self._find_label(name)
        if label is not None and label.store_id is None:
            label.store_id = store_id

    # -- internals -----------------------------------------------------------------------

    def _issue(self, issue_id: str, expected_version: int | None) -> _Issue:
        stored = self.issues.get(issue_id)
        if stored is None:
            raise IssueNotFound(issue_id)
        version = stored.issue.version
        if expected_version is not None and version != expected_version:
            raise VersionConflict(issue_id, expected_version, version)
        return stored

    def _matches(self, stored: _Issue, query: IssueQuery) -> bool:
        issue = stored.issue
        text = (query.text or "").lower()
        wanted_labels = [self._find_label(name) for name in query.labels]
        checks = (
            not query.status or issue.status in query.status,
            not query.priority or issue.priority in query.priority,
            query.reporter is None or issue.reporter == query.reporter,
            not text or text in issue.title.lower() or text in issue.description.lower(),
            query.created_since is None or issue.created_at >= query.created_since,
            query.updated_since is None or issue.updated_at >= query.updated_since,
            query.due_before is None or _due_by(issue.due_date, query.due_before),
            query.due_after is None or _due_by(query.due_after, issue.due_date),
            all(label is not None and label.id in stored.label_ids for label in wanted_labels),
            _assignee_matches(issue.assignees, query.assignee),
        )
        return all(checks)

    def _relabel(
        self, stored: _Issue, label_ids: frozenset[int], now: datetime, actor: str | None
    ) -> IssueOut:
        if label_ids == stored.label_ids:
            return self.get(stored.issue.id)
        # A change that does not add to an issue already over the limit is allowed.
        if len(label_ids) > MAX_LABELS_PER_ISSUE and len(label_ids) > len(stored.label_ids):
            raise TooManyLabels(stored.issue.id, MAX_LABELS_PER_ISSUE)
        before = self.get(stored.issue.id)
        stored.label_ids = label_ids
        issue = stored.issue
        stored.issue = issue.model_copy(update={"updated_at": now, "version": issue.version + 1})
        after = self.get(issue.id)
        self.log.issue_written(before, after, actor, now)
        return after

    def _labels_of(self, stored: _Issue) -> Sequence[_Label]:
        return [self.labels[i] for i in stored.label_ids if i in self.labels]

    def _find_label(self, name: str) -> _Label | None:
        return next((lb for lb in self.labels.values() if _key(lb.name) == _key(name)), None)

    def _label(self, name: str) -> _Label:
        label = self._find_label(name)
        if label is None:
            raise LabelNotFound([name])
        return label

    def _label_ids(self, names: Sequence[str]) -> frozenset[int]:
        unknown = [name for name in names if self._find_label(name) is None]
        if unknown:
            raise LabelNotFound(unknown)
        return frozenset(self._label(name).id for name in names)

    def _label_named(self, name: str) -> _Label:
        """The label with this name, made plain if there is none (as importing does)."""
        return self._find_label(name) or self._add_label(name, "ededed", "")

    def _add_label(self, name: str, color: str, description: str) -> _Label:
        self._next_label += 1
        label = _Label(self._next_label, name, color, description)
        self.labels[label.id] = label
        return label

    def _comment(self, issue_id: str, comment_id: str, expected_version: int | None) -> CommentOut:
        self._issue(issue_id, None)
        comment = self.comments.get(comment_id)
        if comment is None or comment.issue_id != issue_id:
            raise CommentNotFound(comment_id)
        if expected_version is not None and comment.version != expected_version:
            raise CommentVersionConflict(comment_id, expected_version, comment.version)
        return comment


def _closing(
    old: IssueOut, sent: dict[str, object], actor: str | None, now: datetime
) -> dict[str, object]:
    """Closing records when, by whom and why (`completed` unless told); a reason for an
    issue that ends up not closed is refused; leaving `closed` clears all three."""
    status = sent.get("status", old.status)
    reason = sent.get("state_reason")
    if status != IssueStatus.closed:
        if reason is not None:
            raise InvalidIssueChange(old.id, "state_reason", "only a closed issue has a reason")
        if old.status == IssueStatus.closed:
            return {"closed_at": None, "closed_by": None, "state_reason": None}
        return {}
    if old.status != IssueStatus.closed:
        return {
            "closed_at": now,
            "closed_by": actor,
            "state_reason": reason or StateReason.completed,
        }
    if reason is not None and reason != old.state_reason:
        return {"state_reason": reason}
    return {}


def _when(now: datetime | None) -> datetime:
    # Callers from before events passed no time to deletes; any time fits them.
    return now if now is not None else datetime.now(UTC)


def _utc(moment: datetime | None) -> datetime | None:
    """Imported times without a zone are UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def _due_by(earlier: date | None, later: date | None) -> bool:
    """Whether `earlier` is on or before `later`; never when either is missing."""
    return earlier is not None and later is not None and earlier <= later


def _assignee_matches(assignees: Sequence[str], wanted: str | None) -> bool:
    if wanted is None:
        return True
    if wanted == ASSIGNEE_NONE:
        return not assignees
    if wanted == ASSIGNEE_ANY:
        return bool(assignees)
    return wanted in assignees


def _key(name: str) -> str:
    return name.casefold()


def _label_order(name: str) -> tuple[str, str]:
    return (name.casefold(), name)


def _label_out(label: _Label) -> LabelOut:
    return LabelOut(
        id=label.store_id or "", name=label.name, color=label.color, description=label.description
    )


_SORT_KEYS: dict[str, Callable[[IssueOut], Any]] = {
    "created_at": lambda issue: issue.created_at,
    "updated_at": lambda issue: issue.updated_at,
    "priority": lambda issue: _RANK[issue.priority],
    "title": lambda issue: issue.title,
    "due_date": lambda issue: issue.due_date,
}
