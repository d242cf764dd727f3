"""The default store: issues in one JSON file, with labels and comments in files of their
own next to it. Each file carries its format and version (see `durable_file`); the crash
course's bare array of issues is upgraded on opening.

No write spans two files atomically, so the layout makes every moment between two files'
writes harmless, including a crash there:

- Issues refer to labels by id, so renaming a label writes `labels.json` alone. An id an
  issue carries that `labels.json` lacks (a label deleted while being added to an issue, or
  a crash between deleting a label and taking it off the issues) is skipped on every read,
  never counted towards the label limit, and dropped by the next `set_issue_labels`. Label
  ids are UUIDs and never reused, so such an id can never come back to life.
- Comments refer to issues. Deleting an issue writes `issues.json` first and drops its
  comments second; a crash in between, or a comment posted while its issue is being
  deleted, leaves comments of a missing issue. No read reaches them: every comment read
  checks its issue first.
- `comment_count` is not stored anywhere; it is counted from `comments.json`, so it cannot
  drift from the comments.
- The event log (`EventStore`) lives in the files it is about: the events of a write to
  `issues.json` are in `issues.json`, written by the same atomic rename as the change, and
  likewise for comments; `_journal.FileEventJournal` numbers them across both files and
  every process, and reads merge the two by id. Deleting a label records its removal from
  each issue with the write to `issues.json` that takes it off them.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

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
from fastapi_issues.storage.errors import IssueNotFound, LabelNotFound, StorageError
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
from fastapi_issues.storage.records._events import EventLog, MergedEvents
from fastapi_issues.storage.records._issues import (
    IssueIndex,
    PresentedIssues,
    StoredIssue,
    add_missing,
    apply_delete,
    apply_label_ids,
    apply_update,
    drop_label_id,
    present,
)
from fastapi_issues.storage.records._journal import EventEntry, FileEventJournal
from fastapi_issues.storage.records._json_hooks import JSONFileHooks
from fastapi_issues.storage.records._labels import (
    LabelIdsEdit,
    LabelIndex,
    add_missing_labels,
    change_label,
    insert_label,
    labels_named,
    remove_label,
)
from fastapi_issues.storage.records.durable_file import DurableJSONArray, Journaled
from fastapi_issues.storage.rules import (
    EventDraft,
    as_utc,
    comment_event,
    issue_events,
    names_to_import,
    new_comment,
    new_issue,
)

__all__ = ["JSONFileIssueStore"]

_log = logging.getLogger("fastapi_issues")


def _decode_issue(item: Any, file_mtime: float) -> StoredIssue:
    if not isinstance(item, dict):
        raise TypeError("expected an object")
    if "created_at" not in item or "updated_at" not in item:
        # Written by the crash course, before issues had timestamps: the file's own
        # modification time is the best stand-in there is.
        stamp = datetime.fromtimestamp(file_mtime, UTC).isoformat()
        item = {"created_at": stamp, "updated_at": stamp, **item}
    return StoredIssue.model_validate(item)


def _encode_issue(issue: StoredIssue) -> str:
    # Label names and the comment count live in the other files; storing copies would
    # only let them go stale.
    return issue.model_dump_json(exclude={"labels", "comment_count"})


def _decode_label(item: Any, file_mtime: float) -> LabelOut:
    return LabelOut.model_validate(item)


def _decode_comment(item: Any, file_mtime: float) -> CommentOut:
    return CommentOut.model_validate(item)


def _encode(record: LabelOut | CommentOut) -> str:
    return record.model_dump_json()


def _journaled(
    result: object, drafts: Sequence[EventDraft], actor: str | None, now: datetime
) -> Any:
    """`result` with the events of its write, if it records any."""
    if not drafts:
        return result
    entry: EventEntry = (tuple(drafts), actor, now)
    return Journaled(result, (entry,))


def _sibling(path: Path, collection: str) -> Path:
    """`issues.json` gets `labels.json`; any other `name.json` gets `name.labels.json`."""
    if path.stem == "issues":
        return path.with_name(f"{collection}.json")
    return path.with_name(f"{path.stem}.{collection}.json")


class JSONFileIssueStore(StoreLifecycle):
    """Issues, labels and comments in JSON files, served from memory, written durably.

    Each file names its format and version on its first line and then holds one record per
    line. An existing bare array (the crash course's `data/issues.json`, or 0.1's files) is
    upgraded in place on opening, its old content kept as `<name>.v1.bak`; a file of a newer
    version is refused with `CorruptStoreError`. Labels and comments go to `labels.json` and
    `comments.json` in the same folder (`<name>.labels.json` and `<name>.comments.json` when
    the issue file is not called `issues.json`), created on first use. Each acknowledged
    write is on disk (fsynced, atomically renamed into place) before the call returns, and
    concurrent writes, from this process or from other processes on the same files, are
    serialised without losing any.
    A corrupt file makes the constructor raise `CorruptStoreError` naming it; the file is
    never overwritten. `clock` gives the time every write records (default: the system's,
    in UTC). Webhooks go to `hooks.json`, each keeping its `deliveries_kept` newest
    finished deliveries (see `HookStore`).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        labels_path: str | os.PathLike[str] | None = None,
        comments_path: str | os.PathLike[str] | None = None,
        clock: Clock = system_clock,
        deliveries_kept: int = FINISHED_KEPT,
    ) -> None:
        self._clock = clock
        self._wake = EventWake()
        self._journal = FileEventJournal(Path(f"{os.fspath(path)}.events.lock"), self._wake)
        self._file = DurableJSONArray(
            path,
            key=lambda issue: issue.id,
            decode=_decode_issue,
            encode=_encode_issue,
            what="issues",
            journal=self._journal,
        )
        self._labels = DurableJSONArray[LabelOut](
            labels_path if labels_path is not None else _sibling(self._file.path, "labels"),
            key=lambda label: label.id,
            decode=_decode_label,
            encode=_encode,
            what="labels",
        )
        self._comments = DurableJSONArray[CommentOut](
            comments_path if comments_path is not None else _sibling(self._file.path, "comments"),
            key=lambda comment: comment.id,
            decode=_decode_comment,
            encode=_encode,
            what="comments",
            journal=self._journal,
        )
        # Ids the files say were given are never given again, whatever the lock file says.
        self._journal.raise_to(max(self._file.last_event_id, self._comments.last_event_id))
        self._merged = MergedEvents()
        self._index = IssueIndex(dict(self._file.records))
        self._indexed = self._file.records
        self._label_index = LabelIndex(self._labels.records)
        self._shown = PresentedIssues()
        self._comment_groups: dict[str, list[CommentOut]] = {}
        self._grouped: Mapping[str, CommentOut] | None = None
        self._hooks = JSONFileHooks(
            _sibling(self._file.path, "hooks"), self._events, clock, kept=deliveries_kept
        )
        self.hooks: HookStore = self._hooks
        """The webhooks of this store's data (`HookStore`), in `hooks.json` beside it."""

    @property
    def path(self) -> os.PathLike[str]:
        """The JSON file this store keeps issues in."""
        return self._file.path

    # -- the current state of the three files --------------------------------------------

    async def _current(self) -> IssueIndex:
        records = await self._file.fresh_records()
        if records is not self._indexed:
            # Snapshots are never edited once published, so the index can share the dict.
            self._index = IssueIndex(records)  # type: ignore[arg-type]
            self._indexed = records
            self._shown.trim(records)
        return self._index

    async def _current_labels(self) -> LabelIndex:
        records = await self._labels.fresh_records()
        if records is not self._label_index.by_id:
            self._label_index = LabelIndex(records)
        return self._label_index

    async def _current_comments(self) -> Mapping[str, list[CommentOut]]:
        records = await self._comments.fresh_records()
        if records is not self._grouped:
            groups: dict[str, list[CommentOut]] = {}
            for comment in records.values():
                groups.setdefault(comment.issue_id, []).append(comment)
            self._comment_groups = groups
            self._grouped = records
        return self._comment_groups

    async def _show(self, issues: Sequence[IssueOut]) -> list[IssueOut]:
        """The issues as the API shows them, with label names and comment counts."""
        if any(getattr(issue, "label_ids", ()) for issue in issues):
            labels = (await self._current_labels()).by_id
        else:
            labels = self._label_index.by_id  # not looked at
        return self._shown.show_all(issues, labels, await self._current_comments())

    async def _issue(self, issue_id: str) -> StoredIssue:
        issue = (await self._current()).issues.get(issue_id)
        if issue is None:
            raise IssueNotFound(issue_id)
        return issue

    # -- issues --------------------------------------------------------------------------

    async def create(self, data: IssueCreate, *, reporter: str | None = None) -> IssueOut:
        now = self._clock()
        issue = new_issue(data, reporter, now, StoredIssue)
        drafts = issue_events(None, present(issue, {}, 0))

        def add(issues: dict[str, StoredIssue]) -> Any:
            issues[issue.id] = issue
            return _journaled(issue, drafts, reporter, now)

        [shown] = await self._show([await self._file.write(add)])
        return shown

    async def get(self, issue_id: str) -> IssueOut:
        [shown] = await self._show([await self._issue(issue_id)])
        return shown

    async def list(self, query: IssueQuery) -> IssuePage:
        index = await self._current()
        label_ids: tuple[str, ...] = ()
        if query.labels:
            try:
                label_ids = (await self._current_labels()).ids(query.labels)
            except LabelNotFound:
                return IssuePage(items=[], total=0)
        page = index.select(query, label_ids)
        return IssuePage(items=await self._show(page.items), total=page.total)

    async def update(
        self,
        issue_id: str,
        changes: IssueUpdate,
        *,
        expected_version: int | None = None,
        actor: str | None = None,
    ) -> IssueOut:
        now = self._clock()
        show = await self._presenter()

        def edit(issues: dict[str, StoredIssue]) -> Any:
            before = issues.get(issue_id)
            after = apply_update(issues, issue_id, changes, expected_version, actor, now)
            if before is None or after is before:
                return after
            return _journaled(after, issue_events(show(before), show(after)), actor, now)

        issue = await self._file.write(edit)
        [shown] = await self._show([issue])
        return shown

    async def _presenter(self) -> Callable[[StoredIssue], IssueOut]:
        """How the issues a write changes are shown in its events: with the labels and
        comment counts as this process last read them (fresh as of this call)."""
        labels = (await self._current_labels()).by_id
        comments = await self._current_comments()
        return lambda issue: present(issue, labels, len(comments.get(issue.id, ())))

    async def delete(
        self, issue_id: str, *, expected_version: int | None = None, actor: str | None = None
    ) -> None:
        now = self._clock()
        deleted = [EventDraft(EventType.ISSUE_DELETED, issue_id)]

        def remove(issues: dict[str, StoredIssue]) -> Any:
            apply_delete(issues, issue_id, expected_version)
            return _journaled(None, deleted, actor, now)

        await self._file.write(remove)

        def drop_comments(comments: dict[str, CommentOut]) -> None:
            for comment_id in [k for k, c in comments.items() if c.issue_id == issue_id]:
                del comments[comment_id]

        try:
            await self._comments.write(drop_comments)
        except (OSError, StorageError) as exc:
            # The issue is gone for good; comments left behind are never read (see above).
            _log.warning("comments of deleted issue %s were not removed: %s", issue_id, exc)

    # -- labels --------------------------------------------------------------------------

    async def create_label(self, data: LabelCreate) -> LabelOut:
        return await self._labels.write(lambda labels: insert_label(labels, data))

    async def get_label(self, name: str) -> LabelOut:
        return (await self._current_labels()).get(name)

    async def list_labels(self, *, offset: int = 0, limit: int = 100) -> LabelPage:
        return (await self._current_labels()).page(offset, limit)

    async def update_label(self, name: str, changes: LabelUpdate) -> LabelOut:
        return await self._labels.write(lambda labels: change_label(labels, name, changes))

    async def delete_label(self, name: str, *, actor: str | None = None) -> None:
        show = await self._presenter()
        label = await self._labels.write(lambda labels: remove_label(labels, name))
        now = self._clock()

        def take_off(issues: dict[str, StoredIssue]) -> Any:
            carrying = [issue for issue in issues.values() if label.id in issue.label_ids]
            drop_label_id(issues, label.id)
            drafts: list[EventDraft] = []
            for issue in carrying:
                drafts += issue_events(show(issue), show(issues[issue.id]))
            return _journaled(None, drafts, actor, now)

        # Reads skip the id already; this write takes it off the issues and records that.
        try:
            await self._file.write(take_off)
        except (OSError, StorageError) as exc:
            _log.warning("deleted label %s was not taken off its issues: %s", label.id, exc)

    async def set_issue_labels(
        self,
        issue_id: str,
        names: Sequence[str],
        *,
        expected_version: int | None = None,
        actor: str | None = None,
    ) -> IssueOut:
        edit = (await self._current_labels()).setting(names)
        return await self._edit_labels(issue_id, edit, expected_version, actor)

    async def add_issue_labels(
        self,
        issue_id: str,
        names: Sequence[str],
        *,
        expected_version: int | None = None,
        actor: str | None = None,
    ) -> IssueOut:
        # Ids this store does not know are kept: they may be labels another process just
        # made. Only `set_issue_labels` drops them.
        edit = (await self._current_labels()).adding(names)
        return await self._edit_labels(issue_id, edit, expected_version, actor)

    async def remove_issue_labels(
        self,
        issue_id: str,
        names: Sequence[str],
        *,
        expected_version: int | None = None,
        actor: str | None = None,
    ) -> IssueOut:
        edit = (await self._current_labels()).removing(names)
        return await self._edit_labels(issue_id, edit, expected_version, actor)

    async def _edit_labels(
        self, issue_id: str, edit: LabelIdsEdit, expected_version: int | None, actor: str | None
    ) -> IssueOut:
        show = await self._presenter()
        live = self._label_index.by_id
        now = self._clock()

        def relabel(issues: dict[str, StoredIssue]) -> Any:
            before = issues.get(issue_id)
            after = apply_label_ids(
                issues, issue_id, edit, expected_version, live, MAX_LABELS_PER_ISSUE, now
            )
            if before is None or after is before:
                return after
            return _journaled(after, issue_events(show(before), show(after)), actor, now)

        issue = await self._file.write(relabel)
        [shown] = await self._show([issue])
        return shown

    # -- comments ------------------------------------------------------------------------

    async def list_comments(
        self,
        issue_id: str,
        *,
        offset: int = 0,
        limit: int = 20,
        since: datetime | None = None,
    ) -> CommentPage:
        await self._issue(issue_id)
        comments = (await self._current_comments()).get(issue_id, [])
        return select_comments(comments, offset, limit, since)

    async def create_comment(
        self, issue_id: str, data: CommentCreate, *, author: str | None = None
    ) -> CommentOut:
        issue = await self._issue(issue_id)
        now = self._clock()
        comment = new_comment(issue_id, data, author, now)
        show = await self._presenter()
        shown = show(issue)
        after = shown.model_copy(update={"comment_count": shown.comment_count + 1})
        draft = comment_event(None, comment, after)

        def add(comments: dict[str, CommentOut]) -> Any:
            comments[comment.id] = comment
            return _journaled(comment, [draft] if draft else [], author, now)

        created: CommentOut = await self._comments.write(add)
        return created

    async def get_comment(self, issue_id: str, comment_id: str) -> CommentOut:
        await self._issue(issue_id)
        return find_comment(await self._comments.fresh_records(), issue_id, comment_id)

    async def update_comment(
        self,
        issue_id: str,
        comment_id: str,
        changes: CommentUpdate,
        *,
        expected_version: int | None = None,
        actor: str | None = None,
    ) -> CommentOut:
        shown = (await self._presenter())(await self._issue(issue_id))
        now = self._clock()

        def edit(comments: dict[str, CommentOut]) -> Any:
            before = comments.get(comment_id)
            after = apply_comment_update(
                comments, issue_id, comment_id, changes, expected_version, now
            )
            draft = comment_event(before, after, shown)
            return _journaled(after, [draft] if draft else [], actor, now)

        edited: CommentOut = await self._comments.write(edit)
        return edited

    async def delete_comment(
        self,
        issue_id: str,
        comment_id: str,
        *,
        expected_version: int | None = None,
        actor: str | None = None,
    ) -> None:
        shown = (await self._presenter())(await self._issue(issue_id))
        after = shown.model_copy(update={"comment_count": max(shown.comment_count - 1, 0)})
        now = self._clock()

        def remove(comments: dict[str, CommentOut]) -> Any:
            before = comments.get(comment_id)
            apply_comment_delete(comments, issue_id, comment_id, expected_version)
            draft = comment_event(before, None, after)
            return _journaled(None, [draft] if draft else [], actor, now)

        await self._comments.write(remove)

    # -- events --------------------------------------------------------------------------

    async def _events(self) -> EventLog:
        # The visible counter first: every event up to it is in the files read after it.
        visible = self._journal.visible()
        await self._file.fresh_records()
        await self._comments.fresh_records()
        return self._merged.log((self._file.events, self._comments.events), visible)

    async def list_events(self, query: EventQuery) -> Sequence[EventOut]:
        """The events after `query.after`, ascending by id; see `EventStore`."""
        return (await self._events()).select(query)

    async def issue_events(self, issue_id: str, *, offset: int = 0, limit: int = 20) -> EventPage:
        """A page of one issue's timeline, oldest first; see `EventStore`."""
        await self._issue(issue_id)
        return (await self._events()).timeline(issue_id, offset, limit)

    async def last_event_id(self) -> int:
        """The newest event's id (kept when pruned), 0 before the first; see `EventStore`."""
        return (await self._events()).last_id

    async def prune_events(self, *, before: datetime) -> int:
        """Delete the events made before `before` from both files; see `EventStore`."""
        cut = as_utc(before)

        def old(event: EventOut) -> bool:
            return event.created_at < cut

        return await self._file.prune_events(old) + await self._comments.prune_events(old)

    async def wait_for_events(self, after: int) -> None:
        """Return once an event after `after` may be visible: at once for this process's
        writes, within about 50 ms for others' (the journal's counter); see `EventStore`."""
        journal = self._journal
        await self._wake.wait(journal.visible, after, changed=journal.changed)

    # -- copying between stores ----------------------------------------------------------

    async def import_issues(self, issues: Sequence[IssueOut]) -> int:
        """Add issues as they are, skipping ids already here; see `IssueImporter`. Labels
        they carry that this store lacks are made, plain, and written first."""
        batch = list(issues)
        names = names_to_import((await self._current()).issues, batch)
        by_key = await self._labels.write(lambda labels: labels_named(labels, names))
        return await self._file.write(lambda records: add_missing(records, batch, by_key))

    async def export_issues(self) -> AsyncIterator[IssueOut]:
        """Every issue, in creation order; see `IssueExporter`."""
        for issue in await self._show(list((await self._current()).issues.values())):
            yield issue

    async def import_labels(self, labels: Sequence[LabelOut]) -> int:
        """Add labels as they are; see `TrackerImporter`."""
        batch = list(labels)
        return await self._labels.write(lambda records: add_missing_labels(records, batch))

    async def export_labels(self) -> AsyncIterator[LabelOut]:
        """Every label, by name; see `TrackerExporter`."""
        for label in (await self._current_labels()).all():
            yield label

    async def import_comments(self, comments: Sequence[CommentOut]) -> int:
        """Add comments as they are, in order; see `TrackerImporter`."""
        batch = list(comments)
        issue_ids = (await self._current()).issues
        return await self._comments.write(
            lambda records: add_missing_comments(records, batch, issue_ids)
        )

    async def export_comments(self) -> AsyncIterator[CommentOut]:
        """Every comment, oldest first; see `TrackerExporter`."""
        for comment in list((await self._comments.fresh_records()).values()):
            yield comment

    def close(self) -> None:
        """Release the lock files' descriptors."""
        self._file.close()
        self._labels.close()
        self._comments.close()
        self._journal.close()
        self._hooks.close()

    async def aclose(self) -> None:
        """`close()`, for `StoreLifecycle`."""
        self.close()
