"""An issue store that lives in the process's memory: for tests and throwaway demos."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime

from fastapi_issues.schemas import (
    MAX_LABELS_PER_ISSUE,
    CommentCreate,
    CommentOut,
    CommentUpdate,
    IssueCreate,
    IssueOut,
    IssueUpdate,
    LabelCreate,
    LabelOut,
    LabelUpdate,
)
from fastapi_issues.storage.clock import Clock, system_clock
from fastapi_issues.storage.errors import IssueNotFound, LabelNotFound
from fastapi_issues.storage.protocols import StoreLifecycle
from fastapi_issues.storage.query import CommentPage, IssuePage, IssueQuery, LabelPage
from fastapi_issues.storage.records._comments import (
    add_missing_comments,
    apply_comment_delete,
    apply_comment_update,
    find_comment,
    select_comments,
)
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
from fastapi_issues.storage.rules import names_to_import, new_comment, new_issue

__all__ = ["InMemoryIssueStore"]


class InMemoryIssueStore(StoreLifecycle):
    """Keeps issues, labels and comments in dicts. Nothing survives the process; every
    method is atomic because none of them awaits while it changes the data. Opening and
    closing it (`StoreLifecycle`) do nothing.

    `clock` gives the time every write records (default: the system's, in UTC).
    """

    def __init__(self, *, clock: Clock = system_clock) -> None:
        self._clock = clock
        self._index = IssueIndex()
        self._labels: dict[str, LabelOut] = {}
        self._label_index = LabelIndex({})
        self._shown = PresentedIssues()
        # Comments by issue id, then by comment id in creation order.
        self._comments: dict[str, dict[str, CommentOut]] = {}

    def _present(self, issue: IssueOut) -> IssueOut:
        count = len(self._comments.get(issue.id, ()))
        return self._shown.show(issue, self._label_index.by_id, count)

    def _labels_changed(self) -> None:
        # A new mapping per change tells the presented issues that names may have changed.
        self._label_index = LabelIndex(dict(self._labels))

    # -- issues --------------------------------------------------------------------------

    async def create(self, data: IssueCreate, *, reporter: str | None = None) -> IssueOut:
        issue = new_issue(data, reporter, self._clock(), StoredIssue)
        self._index.issues[issue.id] = issue
        self._index.changed()
        return self._present(issue)

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
        issue = apply_update(
            self._index.issues, issue_id, changes, expected_version, actor, self._clock()
        )
        if issue is not before:
            self._index.changed()
        return self._present(issue)

    async def delete(self, issue_id: str, *, expected_version: int | None = None) -> None:
        apply_delete(self._index.issues, issue_id, expected_version)
        self._index.changed()
        self._comments.pop(issue_id, None)
        self._shown.trim(self._index.issues)

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

    async def delete_label(self, name: str) -> None:
        label = remove_label(self._labels, name)
        self._labels_changed()
        drop_label_id(self._index.issues, label.id)
        self._index.changed()

    async def set_issue_labels(
        self, issue_id: str, names: Sequence[str], *, expected_version: int | None = None
    ) -> IssueOut:
        return self._edit_labels(issue_id, self._label_index.setting(names), expected_version)

    async def add_issue_labels(
        self, issue_id: str, names: Sequence[str], *, expected_version: int | None = None
    ) -> IssueOut:
        return self._edit_labels(issue_id, self._label_index.adding(names), expected_version)

    async def remove_issue_labels(
        self, issue_id: str, names: Sequence[str], *, expected_version: int | None = None
    ) -> IssueOut:
        return self._edit_labels(issue_id, self._label_index.removing(names), expected_version)

    def _edit_labels(
        self, issue_id: str, edit: LabelIdsEdit, expected_version: int | None
    ) -> IssueOut:
        before = self._index.issues.get(issue_id)
        issue = apply_label_ids(
            self._index.issues,
            issue_id,
            edit,
            expected_version,
            self._labels,
            MAX_LABELS_PER_ISSUE,
            self._clock(),
        )
        if issue is not before:
            self._index.changed()
        return self._present(issue)

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
        self._issue(issue_id)
        comment = new_comment(issue_id, data, author, self._clock())
        self._comments.setdefault(issue_id, {})[comment.id] = comment
        return comment

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
    ) -> CommentOut:
        self._issue(issue_id)
        comments = self._comments.get(issue_id, {})
        return apply_comment_update(
            comments, issue_id, comment_id, changes, expected_version, self._clock()
        )

    async def delete_comment(
        self, issue_id: str, comment_id: str, *, expected_version: int | None = None
    ) -> None:
        self._issue(issue_id)
        comments = self._comments.get(issue_id, {})
        apply_comment_delete(comments, issue_id, comment_id, expected_version)

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
