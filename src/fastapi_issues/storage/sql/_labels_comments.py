"""Labels, assignees and comments for `SQLIssueStore`: rows in tables of their own, joined to
issues by foreign keys that cascade when an issue or a label is deleted."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, NoReturn

from sqlalchemy import (
    ColumnElement,
    Integer,
    Row,
    Text,
    bindparam,
    delete,
    exists,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from fastapi_issues.schemas import (
    MAX_LABELS_PER_ISSUE,
    CommentCreate,
    CommentOut,
    CommentUpdate,
    IssueOut,
    LabelCreate,
    LabelOut,
    LabelUpdate,
)
from fastapi_issues.storage.clock import Clock
from fastapi_issues.storage.errors import (
    CommentNotFound,
    CommentVersionConflict,
    DuplicateLabel,
    IssueNotFound,
    LabelNotFound,
    StorageError,
    TooManyLabels,
    VersionConflict,
)
from fastapi_issues.storage.query import CommentPage, LabelPage
from fastapi_issues.storage.rules import label_key, label_sort_key, new_comment
from fastapi_issues.storage.sql._database import SQLDatabase
from fastapi_issues.storage.sql._errors import DATABASE_ERRORS, raise_database_error
from fastapi_issues.storage.sql._schema import (
    COMMENT_COLUMNS,
    ISSUE_COLUMNS,
    LABEL_COLUMNS,
    comments,
    issue_assignees,
    issue_labels,
    issues,
    labels,
)

_MAX_ATTEMPTS = 100
_IMPORT_BATCH = 500


class json_names(FunctionElement[str]):
    """The values of a column over the rows of a subquery, as one JSON array: the one way
    both databases hand over a list in a single column."""

    type = Text()
    inherit_cache = True
    name = "json_names"


@compiles(json_names, "sqlite")
def _json_names_sqlite(element: json_names, compiler: SQLCompiler, **kw: Any) -> str:
    return f"json_group_array({compiler.process(element.clauses, **kw)})"


@compiles(json_names, "postgresql")
def _json_names_postgresql(element: json_names, compiler: SQLCompiler, **kw: Any) -> str:
    return f"json_agg({compiler.process(element.clauses, **kw)})"


_LABEL_NAMES = (
    select(json_names(labels.c.name))
    .select_from(issue_labels.join(labels, issue_labels.c.label_id == labels.c.id))
    .where(issue_labels.c.issue_id == issues.c.id)
    .scalar_subquery()
)
_ASSIGNEES = (
    select(json_names(issue_assignees.c.username))
    .where(issue_assignees.c.issue_id == issues.c.id)
    .scalar_subquery()
)
_COMMENT_COUNT = select(func.count()).where(comments.c.issue_id == issues.c.id).scalar_subquery()

ISSUE_SELECT = (*ISSUE_COLUMNS, _LABEL_NAMES, _ASSIGNEES, _COMMENT_COUNT)
"""What an issue is read from: its columns, then its label names, assignees and comment
count, each looked up through an index."""

_FIELDS = tuple(column.name for column in ISSUE_COLUMNS)
_validate_issue = IssueOut.__pydantic_validator__.validate_python


def _names(value: Any) -> list[str]:
    # SQLite gives "[]" for no rows, PostgreSQL gives NULL.
    if value is None:
        return []
    names = json.loads(value) if isinstance(value, str) else value
    return [name for name in names if isinstance(name, str)]


def issue_from_row(row: Row[Any] | Sequence[Any]) -> IssueOut:
    """The one place a row of `ISSUE_SELECT` becomes an issue."""
    width = len(_FIELDS)
    try:
        fields = dict(zip(_FIELDS, row[:width], strict=True))
        fields["labels"] = sorted(_names(row[width]), key=label_sort_key)
        fields["assignees"] = sorted(_names(row[width + 1]))
        fields["comment_count"] = row[width + 2]
        return _validate_issue(fields)  # type: ignore[no-any-return]
    except ValueError as exc:
        raise StorageError(f"an issue row cannot be read: {exc}") from exc


def assignee_rows(issue_id: str, usernames: Iterable[str]) -> list[dict[str, str]]:
    return [{"issue_id": issue_id, "username": name} for name in usernames]


async def labels_by_key(
    conn: AsyncConnection, insert_ignoring: Any, names: Iterable[str]
) -> dict[str, str]:
    """Label ids by key for `names`, making plain labels for names no label has yet."""
    wanted: dict[str, str] = {}
    for name in names:  # the first spelling of a name is the one a new label gets
        wanted.setdefault(label_key(name), name)
    if not wanted:
        return {}
    missing = [
        {"id": _new_id(), "name": name, "name_key": key, "color": "ededed", "description": ""}
        for key, name in wanted.items()
    ]
    await conn.execute(insert_ignoring(labels).values(missing).on_conflict_do_nothing())
    rows = await conn.execute(_LABEL_IDS_BY_KEY, {"keys": list(wanted)})
    return {key: label_id for label_id, key in rows}


async def insert_issue_links(
    conn: AsyncConnection, added: Sequence[IssueOut], label_ids: dict[str, str]
) -> None:
    """The assignee and label rows of issues just inserted."""
    assignees = [row for issue in added for row in assignee_rows(issue.id, issue.assignees)]
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


def labels_condition() -> ColumnElement[bool]:
    """Issues that carry every label whose key is in `label_keys` (`label_count` of them)."""
    carrying = (
        select(issue_labels.c.issue_id)
        .join(labels, issue_labels.c.label_id == labels.c.id)
        .where(labels.c.name_key.in_(bindparam("label_keys", expanding=True)))
        .group_by(issue_labels.c.issue_id)
        .having(func.count() == bindparam("label_count", type_=Integer))
    )
    return issues.c.id.in_(carrying)


def assignee_condition(mode: str) -> ColumnElement[bool]:
    """`mode` is `name` (assigned to `assignee`), `none` or `any`."""
    assigned = exists().where(issue_assignees.c.issue_id == issues.c.id)
    if mode == "none":
        return ~assigned
    if mode == "any":
        return assigned
    return exists().where(
        issue_assignees.c.issue_id == issues.c.id,
        issue_assignees.c.username == bindparam("assignee"),
    )


def _label(row: Sequence[Any]) -> LabelOut:
    return LabelOut(id=row[0], name=row[1], color=row[2], description=row[3])


def _comment(row: Sequence[Any]) -> CommentOut:
    try:
        return CommentOut.model_validate(dict(zip(_COMMENT_FIELDS, row, strict=True)))
    except ValueError as exc:
        raise StorageError(f"a comment row cannot be read: {exc}") from exc


_COMMENT_FIELDS = tuple(column.name for column in COMMENT_COLUMNS)

_LABEL_BY_KEY = select(*LABEL_COLUMNS).where(labels.c.name_key == bindparam("key"))
_LABEL_IDS_BY_KEY = select(labels.c.id, labels.c.name_key).where(
    labels.c.name_key.in_(bindparam("keys", expanding=True))
)
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
_ISSUE_EXISTS = select(issues.c.version).where(issues.c.id == bindparam("issue_id"))
# Taking the issue's row first serialises label edits of one issue on both databases: on
# PostgreSQL it locks the row, on SQLite it takes the write lock before anything is read.
_BUMP_ISSUE = (
    update(issues)
    .where(issues.c.id == bindparam("issue_id"))
    .values(version=issues.c.version + 1, updated_at=bindparam("now"))
    .returning(issues.c.version)
)
_BUMP_ISSUE_AT_VERSION = _BUMP_ISSUE.where(issues.c.version == bindparam("expected"))

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
_COMMENT_DELETE = delete(comments).where(
    comments.c.id == bindparam("comment_id"), comments.c.issue_id == bindparam("issue_id")
)
_COMMENT_DELETE_AT_VERSION = _COMMENT_DELETE.where(comments.c.version == bindparam("match_version"))


class _Unchanged(Exception):
    """Raised inside a transaction to roll it back when the edit changes nothing."""


def _unavailable(exc: Exception) -> NoReturn:
    raise_database_error(exc)


class SQLCollaboration:
    """The `LabelStore` and `CommentStore` methods of `SQLIssueStore`."""

    _db: SQLDatabase
    _nul_is_unstorable: bool
    _clock: Clock

    get: Callable[[str], Awaitable[IssueOut]]  # SQLIssueStore's

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[AsyncConnection]:
        """A connection in a transaction, committed unless the block raises."""
        if not self._db.ready:
            await self._db.ensure_schema()
        try:
            async with self._db.engine.begin() as conn:
                yield conn
        except DATABASE_ERRORS as exc:
            _unavailable(exc)

    @asynccontextmanager
    async def _reading(self) -> AsyncIterator[AsyncConnection]:
        if not self._db.ready:
            await self._db.ensure_schema()
        try:
            async with self._db.statement_engine.connect() as conn:
                yield conn
        except DATABASE_ERRORS as exc:
            _unavailable(exc)

    def _unstorable(self, *values: str) -> bool:
        return self._nul_is_unstorable and any("\x00" in value for value in values)

    # -- labels --------------------------------------------------------------------------

    async def create_label(self, data: LabelCreate) -> LabelOut:
        label = LabelOut(
            id=_new_id(), name=data.name, color=data.color, description=data.description
        )
        row = {**label.model_dump(), "name_key": label_key(label.name)}
        async with self._transaction() as conn:
            try:
                await conn.execute(insert(labels), row)
            except IntegrityError:
                raise DuplicateLabel(data.name) from None
        return label

    async def get_label(self, name: str) -> LabelOut:
        if self._unstorable(name):
            raise LabelNotFound([name])
        async with self._reading() as conn:
            row = (await conn.execute(_LABEL_BY_KEY, {"key": label_key(name)})).first()
        if row is None:
            raise LabelNotFound([name])
        return _label(row)

    async def list_labels(self, *, offset: int = 0, limit: int = 100) -> LabelPage:
        params = {"offset": max(offset, 0), "limit": max(limit, 0)}
        async with self._reading() as conn:
            rows = (await conn.execute(_LABEL_PAGE, params)).all() if limit > 0 else []
            total = (await conn.execute(_LABEL_COUNT)).scalar_one()
        return LabelPage(items=[_label(row) for row in rows], total=total)

    async def update_label(self, name: str, changes: LabelUpdate) -> LabelOut:
        for _ in range(_MAX_ATTEMPTS):
            label = await self.get_label(name)
            altered = {k: v for k, v in changes.changes().items() if getattr(label, k) != v}
            if not altered:
                return label
            values = dict(altered)
            if "name" in altered:
                values["name_key"] = label_key(str(altered["name"]))
            async with self._transaction() as conn:
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

    async def delete_label(self, name: str) -> None:
        if self._unstorable(name):
            raise LabelNotFound([name])
        async with self._transaction() as conn:
            # Its rows in issue_labels go with it (ON DELETE CASCADE).
            result = await conn.execute(delete(labels).where(labels.c.name_key == label_key(name)))
        if not result.rowcount:
            raise LabelNotFound([name])

    async def set_issue_labels(
        self, issue_id: str, names: Sequence[str], *, expected_version: int | None = None
    ) -> IssueOut:
        return await self._edit_labels(issue_id, names, lambda old, named: named, expected_version)

    async def add_issue_labels(
        self, issue_id: str, names: Sequence[str], *, expected_version: int | None = None
    ) -> IssueOut:
        return await self._edit_labels(
            issue_id, names, lambda old, named: old | named, expected_version
        )

    async def remove_issue_labels(
        self, issue_id: str, names: Sequence[str], *, expected_version: int | None = None
    ) -> IssueOut:
        return await self._edit_labels(
            issue_id, names, lambda old, named: old - named, expected_version
        )

    async def _edit_labels(
        self,
        issue_id: str,
        names: Sequence[str],
        edit: Callable[[set[str], set[str]], set[str]],
        expected_version: int | None,
    ) -> IssueOut:
        if self._unstorable(issue_id):
            raise IssueNotFound(issue_id)
        if self._unstorable(*names):
            raise LabelNotFound([name for name in names if "\x00" in name])
        keys = {label_key(name): name for name in names}
        try:
            async with self._transaction() as conn:
                params: dict[str, Any] = {"issue_id": issue_id, "now": self._clock()}
                if expected_version is None:
                    bumped = await conn.execute(_BUMP_ISSUE, params)
                else:
                    params["expected"] = expected_version
                    bumped = await conn.execute(_BUMP_ISSUE_AT_VERSION, params)
                if bumped.first() is None:
                    await self._raise_missing_or_conflict(conn, issue_id, expected_version)
                found = {}
                if keys:
                    rows = await conn.execute(_LABEL_IDS_BY_KEY, {"keys": list(keys)})
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
        except _Unchanged:
            pass
        return await self.get(issue_id)

    async def _raise_missing_or_conflict(
        self, conn: AsyncConnection, issue_id: str, expected_version: int | None
    ) -> NoReturn:
        version = (await conn.execute(_ISSUE_EXISTS, {"issue_id": issue_id})).scalar()
        if version is None:
            raise IssueNotFound(issue_id)
        raise VersionConflict(issue_id, expected_version or 0, version)

    # -- comments ------------------------------------------------------------------------

    async def list_comments(
        self,
        issue_id: str,
        *,
        offset: int = 0,
        limit: int = 20,
        since: datetime | None = None,
    ) -> CommentPage:
        if self._unstorable(issue_id):
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
        async with self._reading() as conn:
            if (await conn.execute(_ISSUE_EXISTS, params)).first() is None:
                raise IssueNotFound(issue_id)
            rows = (await conn.execute(page, params)).all() if limit > 0 else []
            total = (await conn.execute(count, params)).scalar_one()
        return CommentPage(items=[_comment(row) for row in rows], total=total)

    async def create_comment(
        self, issue_id: str, data: CommentCreate, *, author: str | None = None
    ) -> CommentOut:
        if self._unstorable(issue_id):
            raise IssueNotFound(issue_id)
        comment = new_comment(issue_id, data, author, self._clock())
        async with self._transaction() as conn:
            try:
                await conn.execute(insert(comments), comment.model_dump())
            except IntegrityError:
                # The foreign key: there is no such issue (or it was just deleted).
                raise IssueNotFound(issue_id) from None
        return comment

    async def get_comment(self, issue_id: str, comment_id: str) -> CommentOut:
        if self._unstorable(issue_id):
            raise IssueNotFound(issue_id)
        if self._unstorable(comment_id):
            await self.get(issue_id)
            raise CommentNotFound(comment_id)
        params = {"issue_id": issue_id, "comment_id": comment_id}
        async with self._reading() as conn:
            row = (await conn.execute(_COMMENT, params)).first()
            if row is None and (await conn.execute(_ISSUE_EXISTS, params)).first() is None:
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
    ) -> CommentOut:
        for _ in range(_MAX_ATTEMPTS):
            comment = await self.get_comment(issue_id, comment_id)
            if expected_version is not None and comment.version != expected_version:
                raise CommentVersionConflict(comment_id, expected_version, comment.version)
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
            async with self._transaction() as conn:
                result = await conn.execute(_COMMENT_UPDATE, params)
            if result.rowcount:
                return edited
        raise StorageError(f"comment {comment_id!r} kept changing; gave up editing it")

    async def delete_comment(
        self, issue_id: str, comment_id: str, *, expected_version: int | None = None
    ) -> None:
        params: dict[str, Any] = {"issue_id": issue_id, "comment_id": comment_id}
        if not self._unstorable(issue_id, comment_id):
            if expected_version is None:
                statement = _COMMENT_DELETE
            else:
                statement = _COMMENT_DELETE_AT_VERSION
                params["match_version"] = expected_version
            async with self._transaction() as conn:
                if (await conn.execute(statement, params)).rowcount:
                    return
        comment = await self.get_comment(issue_id, comment_id)  # raises if it is gone
        if expected_version is not None and comment.version != expected_version:
            raise CommentVersionConflict(comment_id, expected_version, comment.version)
        raise CommentNotFound(comment_id)  # pragma: no cover - deleted and re-imported

    # -- copying between stores ----------------------------------------------------------

    def _insert_ignoring(self) -> Any:
        if self._db.dialect == "postgresql":
            return postgresql.insert
        if self._db.dialect == "sqlite":
            return sqlite.insert
        raise StorageError(
            f"importing into {self._db.dialect} is not supported"
        )  # pragma: no cover

    async def import_labels(self, labels_to_import: Sequence[LabelOut]) -> int:
        """Add labels as they are; see `TrackerImporter`."""
        if not labels_to_import:
            return 0
        rows = [
            {**label.model_dump(), "name_key": label_key(label.name)} for label in labels_to_import
        ]
        added = 0
        async with self._transaction() as conn:
            # One at a time: a batch holding two case variants of a name must keep the first.
            for row in rows:
                statement = self._insert_ignoring()(labels).values(row).on_conflict_do_nothing()
                added += (await conn.execute(statement)).rowcount
        return added

    async def export_labels(self) -> AsyncIterator[LabelOut]:
        """Every label, by name; see `TrackerExporter`."""
        async with self._reading() as conn:
            rows = (await conn.execute(select(*LABEL_COLUMNS).order_by(labels.c.name_key))).all()
        for row in rows:
            yield _label(row)

    async def import_comments(self, comments_to_import: Sequence[CommentOut]) -> int:
        """Add comments as they are, in order; see `TrackerImporter`."""
        added = 0
        async with self._transaction() as conn:
            for start in range(0, len(comments_to_import), _IMPORT_BATCH):
                batch = comments_to_import[start : start + _IMPORT_BATCH]
                wanted = sorted({comment.issue_id for comment in batch})
                present = set(
                    (
                        await conn.execute(select(issues.c.id).where(issues.c.id.in_(wanted)))
                    ).scalars()
                )
                rows = [c.model_dump() for c in batch if c.issue_id in present]
                if not rows:
                    continue
                statement = (
                    self._insert_ignoring()(comments)
                    .values(rows)
                    .on_conflict_do_nothing(index_elements=[comments.c.id])
                )
                added += (await conn.execute(statement)).rowcount
        return added

    async def export_comments(self) -> AsyncIterator[CommentOut]:
        """Every comment, oldest first; see `TrackerExporter`."""
        after = -(2**63)
        while True:
            async with self._reading() as conn:
                rows = (
                    await conn.execute(
                        select(comments.c.seq, *COMMENT_COLUMNS)
                        .where(comments.c.seq > after)
                        .order_by(comments.c.seq)
                        .limit(_IMPORT_BATCH)
                    )
                ).all()
            for row in rows:
                yield _comment(row[1:])
            if len(rows) < _IMPORT_BATCH:
                return
            after = rows[-1][0]


def _new_id() -> str:
    return str(uuid.uuid4())
