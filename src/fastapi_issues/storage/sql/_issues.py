"""The issue part of the SQL store: issues in the `issues` table, their assignees in
`issue_assignees`, and the labels an imported issue names."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any

from sqlalchemy import Integer, Select, bindparam, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from fastapi_issues.schemas import EventType, IssueCreate, IssueOut, IssueUpdate
from fastapi_issues.storage.clock import Clock
from fastapi_issues.storage.errors import IssueNotFound, StorageError
from fastapi_issues.storage.query import IssuePage, IssueQuery
from fastapi_issues.storage.rules import (
    EventDraft,
    check_version,
    issue_changes,
    issue_events,
    label_key,
    names_to_import,
    new_issue,
)
from fastapi_issues.storage.sql._database import SQLDatabase
from fastapi_issues.storage.sql._events import EventLog
from fastapi_issues.storage.sql._issue_list import (
    QueryShape,
    TextFilter,
    build_list_statements,
    list_params,
    list_shape,
)
from fastapi_issues.storage.sql._schema import (
    issue_assignees,
    issue_labels,
    issues,
    labels,
)
from fastapi_issues.storage.sql._shared import (
    IMPORT_BATCH,
    ISSUE_SELECT,
    LABEL_IDS_BY_KEY,
    MAX_ATTEMPTS,
    changed_columns,
    issue_from_row,
    issue_row,
    new_id,
    read_issue,
)

_INSERT = insert(issues)
_INSERT_ASSIGNEES = insert(issue_assignees)
_DELETE_ASSIGNEES = delete(issue_assignees).where(
    issue_assignees.c.issue_id == bindparam("match_id")
)
# Executed with the changed columns as parameters, which become its SET clause.
_UPDATE = update(issues).where(
    issues.c.id == bindparam("match_id"), issues.c.version == bindparam("match_version")
)
_DELETE = delete(issues).where(issues.c.id == bindparam("match_id"))
_DELETE_AT_VERSION = _DELETE.where(issues.c.version == bindparam("match_version"))
_EXPORT = (
    select(issues.c.seq, *ISSUE_SELECT)
    .where(issues.c.seq > bindparam("after_seq"))
    .order_by(issues.c.seq)
    .limit(bindparam("limit", type_=Integer))
)

COUNTS_KEPT = 256
"""Counts kept per filter (see `SQLIssues._counts`); the oldest go first."""


def _assignee_rows(issue_id: str, usernames: Iterable[str]) -> list[dict[str, str]]:
    return [{"issue_id": issue_id, "username": name} for name in usernames]


class SQLIssues:
    """The `IssueStore` methods of `SQLIssueStore`, and the import and export of issues."""

    def __init__(self, db: SQLDatabase, clock: Clock, events: EventLog) -> None:
        self._db = db
        self._clock = clock
        self._events = events
        self._list_statements: dict[QueryShape, tuple[Select[Any], Select[Any]]] = {}
        self._text = TextFilter(db.dialect)
        # Counting all the rows that match takes PostgreSQL a scan (7.6 ms for 100,000
        # issues). Equal MVCC snapshots see the same committed data, so a count is kept with
        # the snapshot it was taken in and reused while list queries see that same snapshot,
        # i.e. until any transaction writes. Each list query returns its snapshot with its rows.
        self._counts: dict[tuple[Any, ...], tuple[Any, int]] | None = (
            {} if db.dialect == "postgresql" else None
        )

    async def create(self, data: IssueCreate, *, reporter: str | None = None) -> IssueOut:
        """See `IssueStore.create`; records `issue.created`, by the reporter."""
        issue = new_issue(data, reporter, self._clock())
        async with self._db.writing() as conn:
            await conn.execute(_INSERT, issue_row(issue))
            if issue.assignees:
                rows = _assignee_rows(issue.id, issue.assignees)
                await conn.execute(_INSERT_ASSIGNEES, rows)
            await self._events.record(conn, issue_events(None, issue), reporter, issue.created_at)
        return issue

    async def get(self, issue_id: str) -> IssueOut:
        """See `IssueStore.get`."""
        return await read_issue(self._db, issue_id)

    async def list(self, query: IssueQuery) -> IssuePage:
        """See `IssueStore.list`."""
        if self._db.unstorable(
            query.reporter or "", query.text or "", query.assignee or "", *query.labels
        ):
            return IssuePage(items=[], total=0)
        if not self._db.ready:
            await self._db.ensure_schema()
        shape = list_shape(query)
        statements = self._list_statements.get(shape)
        if statements is None:
            statements = build_list_statements(
                shape, self._text, with_snapshot=self._counts is not None
            )
            self._list_statements[shape] = statements
        items_statement, count_statement = statements
        params = list_params(query, shape, self._text)
        offset, limit = params["offset"], params["limit"]
        rows = await self._db.fetch(items_statement, params) if limit else []
        snapshot = None
        if self._counts is not None and rows:
            # The page's rows end with the snapshot they were read in (see _counts).
            snapshot = rows[0][-1]
            rows = [row[:-1] for row in rows]
        if rows and len(rows) < limit:
            # A short page is the last one, so it tells the total by itself.
            total = offset + len(rows)
        elif not rows and offset == 0 and limit:
            total = 0
        else:
            total = await self._count(count_statement, params, shape, snapshot)
        return IssuePage(items=[issue_from_row(row) for row in rows], total=total)

    async def _count(
        self, statement: Select[Any], params: dict[str, Any], shape: QueryShape, snapshot: Any
    ) -> int:
        if self._counts is None:
            return int((await self._db.fetch(statement, params))[0][0])
        key = (
            shape,
            *(
                (k, tuple(v) if isinstance(v, list) else v)
                for k, v in params.items()
                if k not in ("limit", "offset")
            ),
        )
        known = self._counts.get(key)
        if known is not None and snapshot is not None and known[0] == snapshot:
            return known[1]
        total, counted_in = (await self._db.fetch(statement, params))[0]
        if len(self._counts) >= COUNTS_KEPT:
            del self._counts[next(iter(self._counts))]
        self._counts[key] = (counted_in, int(total))
        return int(total)

    async def update(
        self,
        issue_id: str,
        changes: IssueUpdate,
        *,
        expected_version: int | None = None,
        actor: str | None = None,
    ) -> IssueOut:
        """See `IssueStore.update`."""
        wanted = changes.changes()
        for _ in range(MAX_ATTEMPTS):
            current = await self.get(issue_id)
            check_version(current, expected_version)
            now = self._clock()
            altered = issue_changes(current, wanted, actor, now)
            if not altered:
                return current
            updated = current.model_copy(
                update={**altered, "updated_at": now, "version": current.version + 1}
            )
            # Written only if nobody else wrote since the read; otherwise read again, which
            # raises VersionConflict or IssueNotFound if the caller expected a version.
            params = changed_columns(updated)
            params["match_id"] = issue_id
            params["match_version"] = current.version
            # The update comes first: on SQLite it takes the write lock before anything else.
            async with self._db.writing() as conn:
                if not (await conn.execute(_UPDATE, params)).rowcount:
                    continue
                if "assignees" in altered:
                    await conn.execute(_DELETE_ASSIGNEES, {"match_id": issue_id})
                    if updated.assignees:
                        rows = _assignee_rows(issue_id, updated.assignees)
                        await conn.execute(_INSERT_ASSIGNEES, rows)
                # Matched at its version, `current` is the state before: no read needed.
                await self._events.record(conn, issue_events(current, updated), actor, now)
            return updated
        raise StorageError(f"issue {issue_id!r} kept changing; gave up updating it")

    async def delete(
        self, issue_id: str, *, expected_version: int | None = None, actor: str | None = None
    ) -> None:
        """See `IssueStore.delete`; records one `issue.deleted` (its comments go with it)."""
        if self._db.unstorable(issue_id):
            raise IssueNotFound(issue_id)
        params: dict[str, Any] = {"match_id": issue_id}
        statement = _DELETE
        if expected_version is not None:
            statement = _DELETE_AT_VERSION
            params["match_version"] = expected_version
        async with self._db.writing() as conn:
            deleted = (await conn.execute(statement, params)).rowcount
            if deleted:
                drafts = [EventDraft(EventType.ISSUE_DELETED, issue_id)]
                await self._events.record(conn, drafts, actor, self._clock())
        if deleted:
            return
        current = await self.get(issue_id)  # raises IssueNotFound if it is gone
        check_version(current, expected_version)
        # It was at another version when we wrote and is back at ours: cannot happen, as
        # versions only grow, unless it was deleted and imported again in between.
        raise IssueNotFound(issue_id)

    async def import_issues(self, issues_to_import: Sequence[IssueOut]) -> int:
        """See `IssueImporter.import_issues`."""
        if not issues_to_import:
            return 0
        if not self._db.ready:
            await self._db.ensure_schema()
        insert_ignoring = self._db.insert_ignoring()
        # One statement, compiled once and cached: a batch's rows are passed as parameters,
        # which SQLAlchemy sends as multi-row INSERTs ("insertmanyvalues"), so rows get their
        # seq in list order. Rows put in `.values()` would be compiled anew for every batch,
        # which cost more than the insert itself (a third of a second per 500 issues).
        statement = (
            insert_ignoring(issues)
            .on_conflict_do_nothing(index_elements=[issues.c.id])
            .returning(issues.c.id)
        )
        added = 0
        async with self._db.transaction() as conn:
            stored = await _present_ids(conn, {issue.id for issue in issues_to_import})
            names = names_to_import(stored, issues_to_import)
            label_ids = await _labels_by_key(conn, insert_ignoring, names)
            for start in range(0, len(issues_to_import), IMPORT_BATCH):
                batch = issues_to_import[start : start + IMPORT_BATCH]
                rows = [issue_row(issue) for issue in batch]
                new_ids = set((await conn.execute(statement, rows)).scalars())
                added += len(new_ids)
                # A batch may name an id twice: the first is the one inserted.
                firsts: dict[str, IssueOut] = {}
                for issue in batch:
                    firsts.setdefault(issue.id, issue)
                fresh = [issue for i, issue in firsts.items() if i in new_ids]
                await _insert_issue_links(conn, fresh, label_ids)
        return added

    async def export_issues(self) -> AsyncIterator[IssueOut]:
        """Every issue, in creation order, read a batch at a time."""
        after = -(2**63)
        while True:
            async with self._db.reading() as conn:
                params = {"after_seq": after, "limit": IMPORT_BATCH}
                rows = (await conn.execute(_EXPORT, params)).all()
            for row in rows:
                yield issue_from_row(row[1:])
            if len(rows) < IMPORT_BATCH:
                return
            after = rows[-1][0]


async def _present_ids(conn: AsyncConnection, ids: set[str]) -> set[str]:
    """Which of `ids` are stored already."""
    found: set[str] = set()
    listed = sorted(ids)
    for start in range(0, len(listed), IMPORT_BATCH):
        chunk = listed[start : start + IMPORT_BATCH]
        rows = await conn.execute(select(issues.c.id).where(issues.c.id.in_(chunk)))
        found.update(rows.scalars())
    return found


async def _labels_by_key(
    conn: AsyncConnection, insert_ignoring: Any, names: Iterable[str]
) -> dict[str, str]:
    """Label ids by key for `names`, making plain labels for names no label has yet."""
    wanted: dict[str, str] = {}
    for name in names:  # the first spelling of a name is the one a new label gets
        wanted.setdefault(label_key(name), name)
    if not wanted:
        return {}
    missing = [
        {"id": new_id(), "name": name, "name_key": key, "color": "ededed", "description": ""}
        for key, name in wanted.items()
    ]
    await conn.execute(insert_ignoring(labels).values(missing).on_conflict_do_nothing())
    rows = await conn.execute(LABEL_IDS_BY_KEY, {"keys": list(wanted)})
    return {key: label_id for label_id, key in rows}


async def _insert_issue_links(
    conn: AsyncConnection, added: Sequence[IssueOut], label_ids: dict[str, str]
) -> None:
    """The assignee and label rows of issues just inserted."""
    assignees = [row for issue in added for row in _assignee_rows(issue.id, issue.assignees)]
    if assignees:
        await conn.execute(insert(issue_assignees), assignees)
    links = {
        (issue.id, label_ids[label_key(name)])
        for issue in added
        for name in issue.labels
        if label_key(name) in label_ids
    }
    if links:
        rows = [{"issue_id": i, "label_id": label} for i, label in sorted(links)]
        await conn.execute(insert(issue_labels), rows)
