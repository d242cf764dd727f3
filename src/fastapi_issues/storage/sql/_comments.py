"""The comment part of the SQL store: comments in the `comments` table, in creation order,
deleted with their issue (ON DELETE CASCADE)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from fastapi_issues.schemas import CommentCreate, CommentOut, CommentUpdate
from fastapi_issues.storage.clock import Clock
from fastapi_issues.storage.errors import (
    CommentNotFound,
    IssueNotFound,
    StorageError,
)
from fastapi_issues.storage.query import CommentPage
from fastapi_issues.storage.rules import check_comment_version, comment_event, new_comment
from fastapi_issues.storage.sql._database import SQLConnection, SQLDatabase
from fastapi_issues.storage.sql._events import EventLog
from fastapi_issues.storage.sql._schema import COMMENT_COLUMNS, comments, issues
from fastapi_issues.storage.sql._shared import (
    IMPORT_BATCH,
    ISSUE_VERSION,
    MAX_ATTEMPTS,
    issue_on,
    read_issue,
)

_COMMENT = select(*COMMENT_COLUMNS).where(
    comments.c.id == bindparam("comment_id"), comments.c.issue_id == bindparam("issue_id")
)
_COMMENTS_OF_ISSUE = comments.c.issue_id == bindparam("issue_id")
_COMMENT_UPDATE = (
    update(comments)
    .where(
        comments.c.id == bindparam("comment_id"),
        comments.c.issue_id == bindparam("match_issue_id"),
        comments.c.version == bindparam("match_version"),
    )
    .values(
        body=bindparam("new_body"),
        updated_at=bindparam("new_updated_at"),
        version=comments.c.version + 1,
    )
)
# Returning the comment as it was, for its event.
_COMMENT_DELETE = (
    delete(comments)
    .where(comments.c.id == bindparam("comment_id"), comments.c.issue_id == bindparam("issue_id"))
    .returning(*COMMENT_COLUMNS)
)
_COMMENT_DELETE_AT_VERSION = _COMMENT_DELETE.where(comments.c.version == bindparam("match_version"))
_INSERT = insert(comments)
_COMMENT_FIELDS = tuple(column.name for column in COMMENT_COLUMNS)


def _comment(row: Sequence[Any]) -> CommentOut:
    try:
        return CommentOut.model_validate(dict(zip(_COMMENT_FIELDS, row, strict=True)))
    except ValueError as exc:
        raise StorageError(f"a comment row cannot be read: {exc}") from exc


class SQLComments:
    """The `CommentStore` methods of `SQLIssueStore`, and the import and export of comments."""

    def __init__(self, db: SQLDatabase, clock: Clock, events: EventLog) -> None:
        self._db = db
        self._clock = clock
        self._events = events

    async def list_comments(
        self,
        issue_id: str,
        *,
        offset: int = 0,
        limit: int = 20,
        since: datetime | None = None,
    ) -> CommentPage:
        """See `CommentStore.list_comments`."""
        if self._db.unstorable(issue_id):
            raise IssueNotFound(issue_id)
        conditions = [_COMMENTS_OF_ISSUE]
        params: dict[str, Any] = {"issue_id": issue_id}
        if since is not None:
            conditions.append(comments.c.updated_at >= bindparam("since"))
            params["since"] = since
        page = (
            select(*COMMENT_COLUMNS)
            .where(*conditions)
            .order_by(comments.c.seq)
            .limit(max(limit, 0))
            .offset(max(offset, 0))
        )
        count = select(func.count()).select_from(comments).where(*conditions)
        async with self._db.reading() as conn:
            if (await conn.execute(ISSUE_VERSION, params)).first() is None:
                raise IssueNotFound(issue_id)
            rows = (await conn.execute(page, params)).all() if limit > 0 else []
            total = (await conn.execute(count, params)).scalar_one()
        return CommentPage(items=[_comment(row) for row in rows], total=total)

    async def create_comment(
        self, issue_id: str, data: CommentCreate, *, author: str | None = None
    ) -> CommentOut:
        """See `CommentStore.create_comment`; records `comment.created`, by the author."""
        if self._db.unstorable(issue_id):
            raise IssueNotFound(issue_id)
        comment = new_comment(issue_id, data, author, self._clock())
        async with self._db.writing() as conn:
            try:
                await conn.execute(_INSERT, comment.model_dump())
            except IntegrityError:
                # The foreign key: there is no such issue (or it was just deleted).
                raise IssueNotFound(issue_id) from None
            await self._record(conn, None, comment, author, comment.created_at)
        return comment

    async def _record(
        self,
        conn: SQLConnection,
        before: CommentOut | None,
        after: CommentOut | None,
        actor: str | None,
        now: datetime,
    ) -> None:
        """The comment's event, with its issue as the transaction now sees it (the events'
        cost for comments: one read of the issue)."""
        comment = after or before
        assert comment is not None
        issue = await issue_on(conn, comment.issue_id)
        draft = comment_event(before, after, issue)
        if draft is not None:
            await self._events.record(conn, [draft], actor, now)

    async def get_comment(self, issue_id: str, comment_id: str) -> CommentOut:
        """See `CommentStore.get_comment`."""
        if self._db.unstorable(issue_id):
            raise IssueNotFound(issue_id)
        if self._db.unstorable(comment_id):
            await read_issue(self._db, issue_id)
            raise CommentNotFound(comment_id)
        params = {"issue_id": issue_id, "comment_id": comment_id}
        async with self._db.reading() as conn:
            row = (await conn.execute(_COMMENT, params)).first()
            if row is None and (await conn.execute(ISSUE_VERSION, params)).first() is None:
                raise IssueNotFound(issue_id)
        if row is None:
            raise CommentNotFound(comment_id)
        return _comment(row)

    async def update_comment(
        self,
        issue_id: str,
        comment_id: str,
        changes: CommentUpdate,
        *,
        expected_version: int | None = None,
        actor: str | None = None,
    ) -> CommentOut:
        """See `CommentStore.update_comment`."""
        for _ in range(MAX_ATTEMPTS):
            comment = await self.get_comment(issue_id, comment_id)
            check_comment_version(comment, expected_version)
            if comment.body == changes.body:
                return comment
            edited = comment.model_copy(
                update={
                    "body": changes.body,
                    "updated_at": self._clock(),
                    "version": comment.version + 1,
                }
            )
            params = {
                "match_issue_id": issue_id,
                "comment_id": comment_id,
                "match_version": comment.version,
                "new_body": edited.body,
                "new_updated_at": edited.updated_at,
            }
            async with self._db.writing() as conn:
                result = await conn.execute(_COMMENT_UPDATE, params)
                if result.rowcount:
                    await self._record(conn, comment, edited, actor, edited.updated_at)
            if result.rowcount:
                return edited
        raise StorageError(f"comment {comment_id!r} kept changing; gave up editing it")

    async def delete_comment(
        self,
        issue_id: str,
        comment_id: str,
        *,
        expected_version: int | None = None,
        actor: str | None = None,
    ) -> None:
        """See `CommentStore.delete_comment`; records `comment.deleted` with the comment as
        it was."""
        params: dict[str, Any] = {"issue_id": issue_id, "comment_id": comment_id}
        if not self._db.unstorable(issue_id, comment_id):
            if expected_version is None:
                statement = _COMMENT_DELETE
            else:
                statement = _COMMENT_DELETE_AT_VERSION
                params["match_version"] = expected_version
            async with self._db.writing() as conn:
                gone = (await conn.execute(statement, params)).first()
                if gone is not None:
                    await self._record(conn, _comment(gone), None, actor, self._clock())
            if gone is not None:
                return
        comment = await self.get_comment(issue_id, comment_id)  # raises if it is gone
        check_comment_version(comment, expected_version)
        raise CommentNotFound(comment_id)  # pragma: no cover - deleted and re-imported

    async def import_comments(self, comments_to_import: Sequence[CommentOut]) -> int:
        """Add comments as they are, in order; see `TrackerImporter`."""
        # Compiled once, the rows passed as parameters (see `SQLIssues.import_issues`).
        statement = (
            self._db.insert_ignoring()(comments)
            .on_conflict_do_nothing(index_elements=[comments.c.id])
            .returning(comments.c.id)
        )
        added = 0
        async with self._db.transaction() as conn:
            for start in range(0, len(comments_to_import), IMPORT_BATCH):
                batch = comments_to_import[start : start + IMPORT_BATCH]
                wanted = sorted({comment.issue_id for comment in batch})
                present = set(
                    (
                        await conn.execute(select(issues.c.id).where(issues.c.id.in_(wanted)))
                    ).scalars()
                )
                rows = [c.model_dump() for c in batch if c.issue_id in present]
                if not rows:
                    continue
                added += len((await conn.execute(statement, rows)).all())
        return added

    async def export_comments(self) -> AsyncIterator[CommentOut]:
        """Every comment, oldest first; see `TrackerExporter`."""
        after = -(2**63)
        while True:
            async with self._db.reading() as conn:
                rows = (
                    await conn.execute(
                        select(comments.c.seq, *COMMENT_COLUMNS)
                        .where(comments.c.seq > after)
                        .order_by(comments.c.seq)
                        .limit(IMPORT_BATCH)
                    )
                ).all()
            for row in rows:
                yield _comment(row[1:])
            if len(rows) < IMPORT_BATCH:
                return
            after = rows[-1][0]
