"""The label part of the SQL store: labels in the `labels` table, joined to the issues that
carry them by `issue_labels`, whose rows go when either side is deleted (ON DELETE CASCADE)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, bindparam, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from fastapi_issues.schemas import (
    MAX_LABELS_PER_ISSUE,
    IssueOut,
    LabelCreate,
    LabelOut,
    LabelUpdate,
)
from fastapi_issues.storage.clock import Clock
from fastapi_issues.storage.errors import (
    DuplicateLabel,
    IssueNotFound,
    LabelNotFound,
    StorageError,
    TooManyLabels,
    VersionConflict,
)
from fastapi_issues.storage.query import LabelPage
from fastapi_issues.storage.rules import issue_events, label_key, label_sort_key
from fastapi_issues.storage.sql._database import SQLDatabase
from fastapi_issues.storage.sql._events import EventLog
from fastapi_issues.storage.sql._schema import LABEL_COLUMNS, issue_labels, issues, labels
from fastapi_issues.storage.sql._shared import (
    ISSUE_SELECT,
    ISSUE_VERSION,
    LABEL_IDS_BY_KEY,
    MAX_ATTEMPTS,
    issue_from_row,
    issue_on,
    new_id,
    read_issue,
)

_LABEL_BY_KEY = select(*LABEL_COLUMNS).where(labels.c.name_key == bindparam("key"))
_LABEL_PAGE = (
    select(*LABEL_COLUMNS)
    .order_by(labels.c.name_key, labels.c.name)
    .limit(bindparam("limit", type_=Integer))
    .offset(bindparam("offset", type_=Integer))
)
_LABEL_COUNT = select(func.count()).select_from(labels)
_ISSUE_LABEL_IDS = select(issue_labels.c.label_id).where(
    issue_labels.c.issue_id == bindparam("issue_id")
)
# Taking the issue's row first serialises label edits of one issue on both databases: on
# PostgreSQL it locks the row, on SQLite it takes the write lock before anything is read.
_BUMP_ISSUE = (
    update(issues)
    .where(issues.c.id == bindparam("issue_id"))
    .values(version=issues.c.version + 1, updated_at=bindparam("now"))
    .returning(issues.c.version)
)
_BUMP_ISSUE_AT_VERSION = _BUMP_ISSUE.where(issues.c.version == bindparam("expected"))
_LABEL_ID = select(labels.c.id).where(labels.c.name_key == bindparam("key")).scalar_subquery()
_LOCK_LABEL = select(labels.c.id).where(labels.c.name_key == bindparam("key")).with_for_update()
_UNLINK_LABEL = (
    delete(issue_labels)
    .where(issue_labels.c.label_id == _LABEL_ID)
    .returning(issue_labels.c.issue_id)
)
_DELETE_LABEL = delete(labels).where(labels.c.name_key == bindparam("key")).returning(labels.c.name)
_ISSUES_BY_IDS = (
    select(issues.c.seq, *ISSUE_SELECT)
    .where(issues.c.id.in_(bindparam("ids", expanding=True)))
    .order_by(issues.c.seq)
)


class _Unchanged(Exception):
    """Raised inside a transaction to roll it back when the edit changes nothing."""


def _label(row: Sequence[Any]) -> LabelOut:
    return LabelOut(id=row[0], name=row[1], color=row[2], description=row[3])


class SQLLabels:
    """The `LabelStore` methods of `SQLIssueStore`, and the import and export of labels."""

    def __init__(self, db: SQLDatabase, clock: Clock, events: EventLog) -> None:
        self._db = db
        self._clock = clock
        self._events = events

    async def create_label(self, data: LabelCreate) -> LabelOut:
        """See `LabelStore.create_label`."""
        label = LabelOut(
            id=new_id(), name=data.name, color=data.color, description=data.description
        )
        row = {**label.model_dump(), "name_key": label_key(label.name)}
        async with self._db.transaction() as conn:
            try:
                await conn.execute(insert(labels), row)
            except IntegrityError:
                raise DuplicateLabel(data.name) from None
        return label

    async def get_label(self, name: str) -> LabelOut:
        """See `LabelStore.get_label`."""
        if self._db.unstorable(name):
            raise LabelNotFound([name])
        async with self._db.reading() as conn:
            row = (await conn.execute(_LABEL_BY_KEY, {"key": label_key(name)})).first()
        if row is None:
            raise LabelNotFound([name])
        return _label(row)

    async def list_labels(self, *, offset: int = 0, limit: int = 100) -> LabelPage:
        """See `LabelStore.list_labels`."""
        params = {"offset": max(offset, 0), "limit": max(limit, 0)}
        async with self._db.reading() as conn:
            rows = (await conn.execute(_LABEL_PAGE, params)).all() if limit > 0 else []
            total = (await conn.execute(_LABEL_COUNT)).scalar_one()
        return LabelPage(items=[_label(row) for row in rows], total=total)

    async def update_label(self, name: str, changes: LabelUpdate) -> LabelOut:
        """See `LabelStore.update_label`."""
        for _ in range(MAX_ATTEMPTS):
            label = await self.get_label(name)
            altered = {k: v for k, v in changes.changes().items() if getattr(label, k) != v}
            if not altered:
                return label
            values = dict(altered)
            if "name" in altered:
                values["name_key"] = label_key(str(altered["name"]))
            async with self._db.transaction() as conn:
                try:
                    result = await conn.execute(
                        update(labels)
                        .where(
                            labels.c.id == label.id,
                            labels.c.name == label.name,
                            labels.c.color == label.color,
                            labels.c.description == label.description,
                        )
                        .values(values)
                    )
                except IntegrityError:
                    raise DuplicateLabel(str(altered["name"])) from None
            if result.rowcount:
                return label.model_copy(update=altered)
            # Changed or deleted since it was read: read it again.
        raise StorageError(f"label {name!r} kept changing; gave up updating it")

    async def delete_label(self, name: str, *, actor: str | None = None) -> None:
        """See `LabelStore.delete_label`; records `issue.unlabeled` on every issue that
        carried it, oldest issue first."""
        if self._db.unstorable(name):
            raise LabelNotFound([name])
        key = label_key(name)
        async with self._db.transaction() as conn:
            if self._db.dialect == "postgresql":
                # Waits for edits linking the label to commit, and makes later ones wait
                # for this delete (their foreign key check locks the label row): links
                # committed meanwhile would otherwise go by the cascade, unrecorded.
                await conn.execute(_LOCK_LABEL, {"key": key})
            # The links first, returning the issues that carried the label: deleting the
            # label would take them with it (ON DELETE CASCADE) and say nothing.
            carriers = set((await conn.execute(_UNLINK_LABEL, {"key": key})).scalars())
            deleted = (await conn.execute(_DELETE_LABEL, {"key": key})).first()
            if deleted is None:
                raise LabelNotFound([name])
            drafts = []
            if carriers:
                rows = await conn.execute(_ISSUES_BY_IDS, {"ids": sorted(carriers)})
                for row in rows:
                    after = issue_from_row(row[1:])
                    labelled = sorted([*after.labels, deleted.name], key=label_sort_key)
                    drafts += issue_events(after.model_copy(update={"labels": labelled}), after)
            await self._events.record(conn, drafts, actor, self._clock())

    async def set_issue_labels(
        self,
        issue_id: str,
        names: Sequence[str],
        *,
        expected_version: int | None = None,
        actor: str | None = None,
    ) -> IssueOut:
        """See `LabelStore.set_issue_labels`."""
        return await self._edit_labels(
            issue_id, names, lambda old, named: named, expected_version, actor
        )

    async def add_issue_labels(
        self,
        issue_id: str,
        names: Sequence[str],
        *,
        expected_version: int | None = None,
        actor: str | None = None,
    ) -> IssueOut:
        """See `LabelStore.add_issue_labels`."""
        return await self._edit_labels(
            issue_id, names, lambda old, named: old | named, expected_version, actor
        )

    async def remove_issue_labels(
        self,
        issue_id: str,
        names: Sequence[str],
        *,
        expected_version: int | None = None,
        actor: str | None = None,
    ) -> IssueOut:
        """See `LabelStore.remove_issue_labels`."""
        return await self._edit_labels(
            issue_id, names, lambda old, named: old - named, expected_version, actor
        )

    async def _edit_labels(
        self,
        issue_id: str,
        names: Sequence[str],
        edit: Callable[[set[str], set[str]], set[str]],
        expected_version: int | None,
        actor: str | None,
    ) -> IssueOut:
        if self._db.unstorable(issue_id):
            raise IssueNotFound(issue_id)
        if self._db.unstorable(*names):
            raise LabelNotFound([name for name in names if "\x00" in name])
        keys = {label_key(name): name for name in names}
        now = self._clock()
        try:
            async with self._db.transaction() as conn:
                await self._bump_issue(conn, issue_id, expected_version, now)
                found = {}
                if keys:
                    rows = await conn.execute(LABEL_IDS_BY_KEY, {"keys": list(keys)})
                    found = {key: label_id for label_id, key in rows}
                unknown = [name for key, name in keys.items() if key not in found]
                if unknown:
                    raise LabelNotFound(unknown)
                old = set((await conn.execute(_ISSUE_LABEL_IDS, {"issue_id": issue_id})).scalars())
                new = edit(old, set(found.values()))
                if new == old:
                    raise _Unchanged
                if len(new) > MAX_LABELS_PER_ISSUE and len(new) > len(old):
                    raise TooManyLabels(issue_id, MAX_LABELS_PER_ISSUE)
                # The events' cost: the issue read twice in the transaction, before the
                # links change and after.
                before = await issue_on(conn, issue_id)
                await _replace_links(conn, issue_id, old, new, names)
                after = await issue_on(conn, issue_id)
                if before is not None and after is not None:
                    await self._events.record(conn, issue_events(before, after), actor, now)
        except _Unchanged:
            pass
        return await read_issue(self._db, issue_id)

    async def _bump_issue(
        self, conn: AsyncConnection, issue_id: str, expected_version: int | None, now: datetime
    ) -> None:
        params: dict[str, Any] = {"issue_id": issue_id, "now": now}
        if expected_version is None:
            bumped = await conn.execute(_BUMP_ISSUE, params)
        else:
            params["expected"] = expected_version
            bumped = await conn.execute(_BUMP_ISSUE_AT_VERSION, params)
        if bumped.first() is not None:
            return
        version = (await conn.execute(ISSUE_VERSION, {"issue_id": issue_id})).scalar()
        if version is None:
            raise IssueNotFound(issue_id)
        raise VersionConflict(issue_id, expected_version or 0, version)

    async def import_labels(self, labels_to_import: Sequence[LabelOut]) -> int:
        """Add labels as they are; see `TrackerImporter`."""
        if not labels_to_import:
            return 0
        rows = [
            {**label.model_dump(), "name_key": label_key(label.name)} for label in labels_to_import
        ]
        added = 0
        async with self._db.transaction() as conn:
            insert_ignoring = self._db.insert_ignoring()
            # One at a time: a batch holding two case variants of a name must keep the first.
            for row in rows:
                statement = insert_ignoring(labels).values(row).on_conflict_do_nothing()
                added += (await conn.execute(statement)).rowcount
        return added

    async def export_labels(self) -> AsyncIterator[LabelOut]:
        """Every label, by name; see `TrackerExporter`."""
        async with self._db.reading() as conn:
            rows = (await conn.execute(select(*LABEL_COLUMNS).order_by(labels.c.name_key))).all()
        for row in rows:
            yield _label(row)


async def _replace_links(
    conn: AsyncConnection, issue_id: str, old: set[str], new: set[str], names: Sequence[str]
) -> None:
    """Make the issue's label ids `new` where they were `old`, touching only the changes."""
    if old - new:
        await conn.execute(
            delete(issue_labels).where(
                issue_labels.c.issue_id == issue_id,
                issue_labels.c.label_id.in_(sorted(old - new)),
            )
        )
    if new - old:
        try:
            await conn.execute(
                insert(issue_labels),
                [{"issue_id": issue_id, "label_id": i} for i in sorted(new - old)],
            )
        except IntegrityError:
            # A label deleted between the lookup and the insert.
            raise LabelNotFound(list(names)) from None
