"""An issue store that lives in the process's memory: for tests and throwaway demos."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime

from fastapi_issues.schemas import (
    MAX_LABELS_PER_ISSUE,
    CommentCreate,
    CommentOut,
    CommentUpdate,
    EventOut,
    EventType,
    IssueCreate,
    IssueOut,
    IssueUpdate,
    LabelCreate,
    LabelOut,
    LabelUpdate,
)
from fastapi_issues.storage._wake import EventWake
from fastapi_issues.storage.clock import Clock, system_clock
from fastapi_issues.storage.deliveries import FINISHED_KEPT
from fastapi_issues.storage.errors import IssueNotFound, LabelNotFound
from fastapi_issues.storage.protocols import HookStore, StoreLifecycle
from fastapi_issues.storage.query import (
    CommentPage,
    EventPage,
    EventQuery,
    IssuePage,
    IssueQuery,
    LabelPage,
)
from fastapi_issues.storage.records._comments import (
    add_missing_comments,
    apply_comment_delete,
    apply_comment_update,
    find_comment,
    select_comments,
)
from fastapi_issues.storage.records._events import EventLog
from fastapi_issues.storage.records._hooks import BookHooks, HookBook
from fastapi_issues.storage.records._issues import (
    IssueIndex,
    PresentedIssues,
    StoredIssue,
    add_missing,
    apply_delete,
    apply_label_ids,
    apply_update,
    drop_label_id,
)
from fastapi_issues.storage.records._labels import (
    LabelIdsEdit,
    LabelIndex,
    add_missing_labels,
    change_label,
    insert_label,
    labels_named,
    remove_label,
)
from fastapi_issues.storage.rules import (
    EventDraft,
    as_utc,
    comment_event,
    issue_events,
    names_to_import,
    new_comment,
    new_issue,
)

__all__ = ["InMemoryIssueStore"]


class InMemoryIssueStore(StoreLifecycle):
    """Keeps issues, labels and comments in dicts, the event log (`EventStore`) in a list,
    and webhooks in `hooks` (a `HookStore`). Nothing survives the process; every method is
    atomic, its events included, because none of them awaits while it changes the data.
    Opening and closing it (`StoreLifecycle`) do nothing.

    `clock` gives the time every write records (default: the system's, in UTC);
    `deliveries_kept`, how many finished deliveries each hook keeps (see `HookStore`).
    """

    def __init__(
        self, *, clock: Clock = system_clock, deliveries_kept: int = FINISHED_KEPT
    ) -> None:
        self._clock = clock
        self._index = IssueIndex()
        self._labels: dict[str, LabelOut] = {}
        self._label_index = LabelIndex({})
        self._shown = PresentedIssues()
        # Comments by issue id, then by comment id in creation order.
        self._comments: dict[str, dict[str, CommentOut]] = {}
        self._events = EventLog()
        self._wake = EventWake()
        self.hooks: HookStore = BookHooks(HookBook(deliveries_kept), lambda: self._events, clock)
        """The webhooks of this store's data (`HookStore`)."""

    def _record(self, drafts: Sequence[EventDraft], actor: str | None, now: datetime) -> None:
        if drafts:
            self._events.record(drafts, actor, now)
            self._wake.written()

    def _issue_written(
        self, before: IssueOut | None, issue: IssueOut, actor: str | None, now: datetime
    ) -> IssueOut:
        """The issue as shown after a write to it, its events recorded; an edit that left
        the stored issue as it was records nothing."""
        if issue is before:
            return self._present(issue)
        shown_before = self._present(before) if before is not None else None
        self._index.changed()
        shown = self._present(issue)
        self._record(issue_events(shown_before, shown), actor, now)
        return shown

    def _present(self, issue: IssueOut) -> IssueOut:
        count = len(self._comments.get(issue.id, ()))
        return self._shown.show(issue, self._label_index.by_id, count)

    def _labels_changed(self) -> None:
        # A new mapping per change tells the presented issues that names may have changed.
        self._label_index = LabelIndex(dict(self._labels))

    # -- issues --------------------------------------------------------------------------

    async def create(self, data: IssueCreate, *, reporter: str | None = None) -> IssueOut:
        now = self._clock()
        issue = new_issue(data, reporter, now, StoredIssue)
        self._index.issues[issue.id] = issue
        self._index.changed()
        shown = self._present(issue)
        self._record(issue_events(None, shown), reporter, now)
        return shown

    async def get(self, issue_id: str) -> IssueOut:
        return self._present(self._issue(issue_id))

    def _issue(self, issue_id: str) -> StoredIssue:
        issue = self._index.issues.get(issue_id)
        if issue is None:
            raise IssueNotFound(issue_id)
        return issue

    async def list(self, query: IssueQuery) -> IssuePage:
        label_ids: tuple[str, ...] = ()
        if query.labels:
            try:
                label_ids = self._label_index.ids(query.labels)
            except LabelNotFound:
                return IssuePage(items=[], total=0)
        page = self._index.select(query, label_ids)
        shown = self._shown.show_all(page.items, self._label_index.by_id, self._comments)
        return IssuePage(items=shown, total=page.total)

    async def update(
        self,
        issue_id: str,
        changes: IssueUpdate,
        *,
        expected_version: int | None = None,
        actor: str | None = None,
    ) -> IssueOut:
        before = self._index.issues.get(issue_id)
        now = self._clock()
        issue = apply_update(self._index.issues, issue_id, changes, expected_version, actor, now)
        return self._issue_written(before, issue, actor, now)

    async def delete(
        self, issue_id: str, *, expected_version: int | None = None, actor: str | None = None
    ) -> None:
        now = self._clock()
        apply_delete(self._index.issues, issue_id, expected_version)
        self._index.changed()
        self._comments.pop(issue_id, None)
        self._shown.trim(self._index.issues)
        self._record([EventDraft(EventType.ISSUE_DELETED, issue_id)], actor, now)

    # -- labels --------------------------------------------------------------------------

    async def create_label(self, data: LabelCreate) -> LabelOut:
        label = insert_label(self._labels, data)
        self._labels_changed()
        return label

    async def get_label(self, name: str) -> LabelOut:
        return self._label_index.get(name)

    async def list_labels(self, *, offset: int = 0, limit: int = 100) -> LabelPage:
        return self._label_index.page(offset, limit)

    async def update_label(self, name: str, changes: LabelUpdate) -> LabelOut:
        label = change_label(self._labels, name, changes)
        self._labels_changed()
        return label

    async def delete_label(self, name: str, *, actor: str | None = None) -> None:
        now = self._clock()
        label = self._label_index.get(name)
        carrying = [i for i in self._index.issues.values() if label.id in i.label_ids]
        before = [self._present(issue) for issue in carrying]
        remove_label(self._labels, name)
        self._labels_changed()
        drop_label_id(self._index.issues, label.id)
        self._index.changed()
        drafts: list[EventDraft] = []
        for old in before:
            drafts += issue_events(old, self._present(self._index.issues[old.id]))
        self._record(drafts, actor, now)

    async def set_issue_labels(
        self,
        issue_id: str,
        names: Sequence[str],
        *,
        expected_version: int | None = None,
        actor: str | None = None,
    ) -> IssueOut:
        edit = self._label_index.setting(names)
        return self._edit_labels(issue_id, edit, expected_version, actor)

    async def add_issue_labels(
        self,
        issue_id: str,
        names: Sequence[str],
        *,
        expected_version: int | None = None,
        actor: str | None = None,
    ) -> IssueOut:
        edit = self._label_index.adding(names)
        return self._edit_labels(issue_id, edit, expected_version, actor)

    async def remove_issue_labels(
        self,
        issue_id: str,
        names: Sequence[str],
        *,
        expected_version: int | None = None,
        actor: str | None = None,
    ) -> IssueOut:
        edit = self._label_index.removing(names)
        return self._edit_labels(issue_id, edit, expected_version, actor)

    def _edit_labels(
        self, issue_id: str, edit: LabelIdsEdit, expected_version: int | None, actor: str | None
    ) -> IssueOut:
        before = self._index.issues.get(issue_id)
        now = self._clock()
        issue = apply_label_ids(
            self._index.issues,
            issue_id,
            edit,
            expected_version,
            self._labels,
            MAX_LABELS_PER_ISSUE,
            now,
        )
        return self._issue_written(before, issue, actor, now)

    # -- comments ------------------------------------------------------------------------

    async def list_comments(
        self,
        issue_id: str,
        *,
        offset: int = 0,
        limit: int = 20,
        since: datetime | None = None,
    ) -> CommentPage:
        self._issue(issue_id)
        comments = list(self._comments.get(issue_id, {}).values())
        return select_comments(comments, offset, limit, since)

    async def create_comment(
        self, issue_id: str, data: CommentCreate, *, author: str | None = None
    ) -> CommentOut:
        issue = self._issue(issue_id)
        now = self._clock()
        comment = new_comment(issue_id, data, author, now)
        self._comments.setdefault(issue_id, {})[comment.id] = comment
        self._record_comment(None, comment, issue, author, now)
        return comment

    def _record_comment(
        self,
        before: CommentOut | None,
        after: CommentOut | None,
        issue: StoredIssue,
        actor: str | None,
        now: datetime,
    ) -> None:
        draft = comment_event(before, after, self._present(issue))
        if draft is not None:
            self._record([draft], actor, now)

    async def get_comment(self, issue_id: str, comment_id: str) -> CommentOut:
        self._issue(issue_id)
        return find_comment(self._comments.get(issue_id, {}), issue_id, comment_id)

    async def update_comment(
        self,
        issue_id: str,
        comment_id: str,
        changes: CommentUpdate,
        *,
        expected_version: int | None = None,
        actor: str | None = None,
    ) -> CommentOut:
        issue = self._issue(issue_id)
        comments = self._comments.get(issue_id, {})
        before = comments.get(comment_id)
        now = self._clock()
        edited = apply_comment_update(
            comments, issue_id, comment_id, changes, expected_version, now
        )
        self._record_comment(before, edited, issue, actor, now)
        return edited

    async def delete_comment(
        self,
        issue_id: str,
        comment_id: str,
        *,
        expected_version: int | None = None,
        actor: str | None = None,
    ) -> None:
        issue = self._issue(issue_id)
        comments = self._comments.get(issue_id, {})
        before = comments.get(comment_id)
        now = self._clock()
        apply_comment_delete(comments, issue_id, comment_id, expected_version)
        self._record_comment(before, None, issue, actor, now)

    # -- events --------------------------------------------------------------------------

    async def list_events(self, query: EventQuery) -> Sequence[EventOut]:
        """The events after `query.after`, ascending by id; see `EventStore`."""
        return self._events.select(query)

    async def issue_events(self, issue_id: str, *, offset: int = 0, limit: int = 20) -> EventPage:
        """A page of one issue's timeline, oldest first; see `EventStore`."""
        self._issue(issue_id)
        return self._events.timeline(issue_id, offset, limit)

    async def last_event_id(self) -> int:
        """The newest event's id (kept when pruned), 0 before the first; see `EventStore`."""
        return self._events.last_id

    async def prune_events(self, *, before: datetime) -> int:
        """Delete the events made before `before`; see `EventStore`."""
        self._events, dropped = self._events.pruned(as_utc(before))
        return dropped

    async def wait_for_events(self, after: int) -> None:
        """Return once an event after `after` is here; every write is in this process, so
        it wakes at once. See `EventStore`."""
        await self._wake.wait(lambda: self._events.last_id, after)

    # -- copying between stores ----------------------------------------------------------

    async def import_issues(self, issues: Sequence[IssueOut]) -> int:
        """Add issues as they are, skipping ids already here; see `IssueImporter`. Labels
        they carry that this store lacks are made, plain."""
        by_key = labels_named(self._labels, names_to_import(self._index.issues, issues))
        self._labels_changed()
        added = add_missing(self._index.issues, issues, by_key)
        if added:
            self._index.changed()
        return added

    async def export_issues(self) -> AsyncIterator[IssueOut]:
        """Every issue, in creation order; see `IssueExporter`."""
        for issue in list(self._index.issues.values()):
            yield self._present(issue)

    async def import_labels(self, labels: Sequence[LabelOut]) -> int:
        """Add labels as they are; see `TrackerImporter`."""
        added = add_missing_labels(self._labels, labels)
        if added:
            self._labels_changed()
        return added

    async def export_labels(self) -> AsyncIterator[LabelOut]:
        """Every label, by name; see `TrackerExporter`."""
        for label in self._label_index.all():
            yield label

    async def import_comments(self, comments: Sequence[CommentOut]) -> int:
        """Add comments as they are, in order; see `TrackerImporter`."""
        # Comment ids are unique in the whole store, not only among one issue's comments.
        taken = {i for group in self._comments.values() for i in group}
        added = 0
        for comment in comments:
            if comment.issue_id not in self._index.issues or comment.id in taken:
                continue
            group = self._comments.setdefault(comment.issue_id, {})
            added += add_missing_comments(group, [comment], self._index.issues)
            taken.add(comment.id)
        return added

    async def export_comments(self) -> AsyncIterator[CommentOut]:
        """Every comment, oldest first within each issue; see `TrackerExporter`."""
        for group in list(self._comments.values()):
            for comment in list(group.values()):
                yield comment
