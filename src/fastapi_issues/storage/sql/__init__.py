"""Issues in a SQL database: SQLite on one machine, PostgreSQL for many app processes.

Needs the `sql` extra (SQLAlchemy and aiosqlite), plus `postgres` (asyncpg) for PostgreSQL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime, timezone
from typing import Any, NoReturn

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    Text,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine

from fastapi_issues.schemas import IssueCreate, IssueOut, IssueUpdate
from fastapi_issues.storage.clock import Clock, system_clock
from fastapi_issues.storage.errors import IssueNotFound, StorageError
from fastapi_issues.storage.query import ASSIGNEE_ANY, ASSIGNEE_NONE, IssuePage, IssueQuery
from fastapi_issues.storage.rules import (
    check_version,
    issue_changes,
    label_key,
    names_to_import,
    new_issue,
)
from fastapi_issues.storage.sql._database import (
    SQLITE_CONTAINS_FUNCTION,
    SQLDatabase,
    SQLStoreBase,
)
from fastapi_issues.storage.sql._errors import DATABASE_ERRORS, raise_database_error
from fastapi_issues.storage.sql._labels_comments import (
    ISSUE_SELECT,
    SQLCollaboration,
    assignee_condition,
    assignee_rows,
    insert_issue_links,
    issue_from_row,
    labels_by_key,
    labels_condition,
)
from fastapi_issues.storage.sql._schema import (
    COLLABORATION_TABLES,
    PRIORITY_RANK,
    issue_assignees,
    issues,
)

__all__ = ["SQLIssueStore"]

_SELECT_ONE = select(*ISSUE_SELECT).where(issues.c.id == bindparam("match_id"))
_INSERT = insert(issues)
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

_SORT_KEYS = {
    "created_at": issues.c.created_at,
    "updated_at": issues.c.updated_at,
    "priority": issues.c.priority_rank,
    "title": issues.c.title,
}

# Without a limit on retries, a writer that always loses to others would spin forever.
_MAX_UPDATE_ATTEMPTS = 100
_IMPORT_BATCH = 500
# Counts kept per filter (see SQLIssueStore._counts); the oldest go first.
_COUNTS_KEPT = 256

# (status?, priority?, reporter?, text?, created_since?, updated_since?, sort, direction,
#  labels?, assignee mode)
_ListShape = tuple[bool, bool, bool, bool, bool, bool, str, str, bool, str | None]

_issue = issue_from_row


def _row(issue: IssueOut) -> dict[str, Any]:
    return {
        "id": issue.id,
        "title": issue.title,
        "description": issue.description,
        "priority": issue.priority.value,
        "priority_rank": PRIORITY_RANK[issue.priority.value],
        "status": issue.status.value,
        "created_at": _aware(issue.created_at),
        "updated_at": _aware(issue.updated_at),
        "reporter": issue.reporter,
        "version": issue.version,
        **_closing_columns(issue),
    }


def _closing_columns(issue: IssueOut) -> dict[str, Any]:
    return {
        "state_reason": issue.state_reason.value if issue.state_reason else None,
        "closed_at": _aware(issue.closed_at) if issue.closed_at else None,
        "closed_by": issue.closed_by,
    }


def _changed_columns(issue: IssueOut) -> dict[str, Any]:
    return {
        "title": issue.title,
        "description": issue.description,
        "priority": issue.priority.value,
        "priority_rank": PRIORITY_RANK[issue.priority.value],
        "status": issue.status.value,
        "updated_at": issue.updated_at,
        "version": issue.version,
        **_closing_columns(issue),
    }


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def _like_pattern(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _sqlite_needle(text: str) -> str:
    return text.lower()


def _like_text_condition() -> ColumnElement[bool]:
    pattern = bindparam("text", type_=Text)
    # lower() folds case by its argument's collation, and titles are in "C", which folds
    # only ASCII: fold them in the database's own.
    return or_(
        func.lower(issues.c.title.collate("default")).like(pattern, escape="\\"),
        func.lower(issues.c.description).like(pattern, escape="\\"),
    )


def _sqlite_text_condition() -> ColumnElement[bool]:
    contains = getattr(func, SQLITE_CONTAINS_FUNCTION)
    needle = bindparam("text", type_=Text)
    return contains(needle, issues.c.title, issues.c.description) == 1  # type: ignore[no-any-return]


def _unavailable(exc: Exception) -> NoReturn:
    # The router turns StorageError into a 503 and logs the message.
    raise_database_error(exc)


class SQLIssueStore(SQLCollaboration, SQLStoreBase):
    """Issues in the `issues` table of a SQLite or PostgreSQL database.

    Every filter, sort and page of `list` is one indexed query; `update` and `delete` with an
    expected version check it in the same statement as the write, so any number of app
    processes can share the database. SQLite runs in WAL mode, waits for other processes'
    writes (busy timeout), and syncs every commit to disk.

    The tables are created on first use, or up front with `create_schema()`; `lifespan` does
    that and disposes of the engine, for `FastAPI(lifespan=store.lifespan)`.

    Args:
        url_or_engine: a database URL, `sqlite:///issues.db` or
            `postgresql://user@host/db` (the async drivers aiosqlite and asyncpg are filled
            in; explicit `sqlite+aiosqlite://` and `postgresql+asyncpg://` work too), or an
            `AsyncEngine`, which stays yours to dispose of.
        schema: the PostgreSQL schema to keep the tables in, created if missing (default:
            the connection's `search_path`).
        clock: gives the time every write records (default: the system's, in UTC).
    """

    def __init__(
        self,
        url_or_engine: str | URL | AsyncEngine,
        *,
        schema: str | None = None,
        clock: Clock = system_clock,
    ) -> None:
        self._clock = clock
        self._db = SQLDatabase(url_or_engine, tables=[issues, *COLLABORATION_TABLES], schema=schema)
        self._engine = self._db.statement_engine
        self._list_statements: dict[_ListShape, tuple[Select[Any], Select[Any]]] = {}
        self._text_condition = (
            _sqlite_text_condition if self._db.dialect == "sqlite" else _like_text_condition
        )
        self._text_param = _sqlite_needle if self._db.dialect == "sqlite" else _like_pattern
        # Counting all the rows that match takes PostgreSQL a scan (7.6 ms for 100,000
        # issues). Equal MVCC snapshots see the same committed data, so a count is kept with
        # the snapshot it was taken in and reused while list queries see that same snapshot,
        # i.e. until any transaction writes. Each list query returns its snapshot with its rows.
        self._counts: dict[tuple[Any, ...], tuple[Any, int]] | None = (
            {} if self._db.dialect == "postgresql" else None
        )
        # PostgreSQL text cannot hold NUL, so no stored value has one; asked for one, the
        # answer is "none", not a driver error.
        self._nul_is_unstorable = self._db.dialect == "postgresql"

    # -- the IssueStore protocol ---------------------------------------------------------

    async def create(self, data: IssueCreate, *, reporter: str | None = None) -> IssueOut:
        issue = new_issue(data, reporter, self._clock())
        if not issue.assignees:
            await self._write(_INSERT, _row(issue))
            return issue
        async with self._transaction() as conn:
            await conn.execute(_INSERT, _row(issue))
            await conn.execute(insert(issue_assignees), assignee_rows(issue.id, issue.assignees))
        return issue

    async def get(self, issue_id: str) -> IssueOut:
        if self._nul_is_unstorable and "\x00" in issue_id:
            raise IssueNotFound(issue_id)
        rows = await self._db.fetch(_SELECT_ONE, {"match_id": issue_id})
        row = rows[0] if rows else None
        if row is None:
            raise IssueNotFound(issue_id)
        return _issue(row)

    async def list(self, query: IssueQuery) -> IssuePage:
        if self._unstorable(
            query.reporter or "", query.text or "", query.assignee or "", *query.labels
        ):
            return IssuePage(items=[], total=0)
        if not self._db.ready:
            await self._db.ensure_schema()
        shape: _ListShape = (
            bool(query.status),
            bool(query.priority),
            query.reporter is not None,
            bool(query.text),
            query.created_since is not None,
            query.updated_since is not None,
            query.sort,
            query.direction,
            bool(query.labels),
            _assignee_mode(query.assignee),
        )
        statements = self._list_statements.get(shape)
        if statements is None:
            statements = self._list_statements[shape] = self._build_list_statements(shape)
        items_statement, count_statement = statements
        offset = max(query.offset, 0)
        limit = max(query.limit, 0)
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        if query.status:
            params["statuses"] = [status.value for status in query.status]
        if query.priority:
            params["ranks"] = [PRIORITY_RANK[priority.value] for priority in query.priority]
        if query.reporter is not None:
            params["reporter"] = query.reporter
        if query.text:
            params["text"] = self._text_param(query.text)
        if query.created_since is not None:
            params["created_since"] = _aware(query.created_since)
        if query.updated_since is not None:
            params["updated_since"] = _aware(query.updated_since)
        if query.labels:
            keys = sorted({label_key(name) for name in query.labels})
            params["label_keys"] = keys
            params["label_count"] = len(keys)
        if shape[9] == "name":
            params["assignee"] = query.assignee
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
        return IssuePage(items=[_issue(row) for row in rows], total=total)

    async def _count(
        self, statement: Select[Any], params: dict[str, Any], shape: _ListShape, snapshot: Any
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
        if len(self._counts) >= _COUNTS_KEPT:
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
        wanted = changes.changes()
        for _ in range(_MAX_UPDATE_ATTEMPTS):
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
            params = _changed_columns(updated)
            params["match_id"] = issue_id
            params["match_version"] = current.version
            if "assignees" not in altered:
                if await self._write(_UPDATE, params):
                    return updated
                continue
            async with self._transaction() as conn:
                if not (await conn.execute(_UPDATE, params)).rowcount:
                    continue
                await conn.execute(
                    delete(issue_assignees).where(issue_assignees.c.issue_id == issue_id)
                )
                if updated.assignees:
                    rows = assignee_rows(issue_id, updated.assignees)
                    await conn.execute(insert(issue_assignees), rows)
            return updated
        raise StorageError(f"issue {issue_id!r} kept changing; gave up updating it")

    async def delete(self, issue_id: str, *, expected_version: int | None = None) -> None:
        if self._nul_is_unstorable and "\x00" in issue_id:
            raise IssueNotFound(issue_id)
        if expected_version is None:
            if not await self._write(_DELETE, {"match_id": issue_id}):
                raise IssueNotFound(issue_id)
            return
        params = {"match_id": issue_id, "match_version": expected_version}
        if await self._write(_DELETE_AT_VERSION, params):
            return
        current = await self.get(issue_id)  # raises IssueNotFound if it is gone
        check_version(current, expected_version)
        # It was at another version when we wrote and is back at ours: cannot happen, as
        # versions only grow, unless it was deleted and imported again in between.
        raise IssueNotFound(issue_id)

    # -- copying between stores ----------------------------------------------------------

    async def import_issues(self, issues_to_import: Sequence[IssueOut]) -> int:
        """Add issues as they are (ids, times, versions), in order, skipping ids already here.

        Returns how many were added.
        """
        if not issues_to_import:
            return 0
        if not self._db.ready:
            await self._db.ensure_schema()
        if self._db.dialect == "postgresql":
            insert_ignoring: Any = postgresql.insert
        elif self._db.dialect == "sqlite":
            insert_ignoring = sqlite.insert
        else:  # pragma: no cover - only SQLite and PostgreSQL are supported
            raise StorageError(f"importing into {self._db.dialect} is not supported")
        added = 0
        try:
            async with self._db.engine.begin() as conn:
                present = await _present_ids(conn, {issue.id for issue in issues_to_import})
                names = names_to_import(present, issues_to_import)
                label_ids = await labels_by_key(conn, insert_ignoring, names)
                for start in range(0, len(issues_to_import), _IMPORT_BATCH):
                    batch = issues_to_import[start : start + _IMPORT_BATCH]
                    # One multi-row INSERT per batch: rows get their seq in list order.
                    statement = (
                        insert_ignoring(issues)
                        .values([_row(issue) for issue in batch])
                        .on_conflict_do_nothing(index_elements=[issues.c.id])
                        .returning(issues.c.id)
                    )
                    new_ids = set((await conn.execute(statement)).scalars())
                    added += len(new_ids)
                    # A batch may name an id twice: the first is the one inserted.
                    firsts: dict[str, IssueOut] = {}
                    for issue in batch:
                        firsts.setdefault(issue.id, issue)
                    fresh = [issue for i, issue in firsts.items() if i in new_ids]
                    await insert_issue_links(conn, fresh, label_ids)
        except DATABASE_ERRORS as exc:
            _unavailable(exc)
        return added

    async def export_issues(self) -> AsyncIterator[IssueOut]:
        """Every issue, in creation order, read a batch at a time."""
        if not self._db.ready:
            await self._db.ensure_schema()
        after = -(2**63)
        while True:
            try:
                async with self._engine.connect() as conn:
                    params = {"after_seq": after, "limit": _IMPORT_BATCH}
                    rows = (await conn.execute(_EXPORT, params)).all()
            except DATABASE_ERRORS as exc:
                _unavailable(exc)
            for row in rows:
                yield _issue(row[1:])
            if len(rows) < _IMPORT_BATCH:
                return
            after = rows[-1][0]

    # -- internals -----------------------------------------------------------------------

    async def _write(self, statement: Any, params: dict[str, Any]) -> int:
        """Run one write statement in its own transaction; return how many rows it touched."""
        return await self._db.write(statement, params)

    def _build_list_statements(self, shape: _ListShape) -> tuple[Select[Any], Select[Any]]:
        has_status, has_priority, has_reporter, has_text, has_created, has_updated = shape[:6]
        sort, direction = shape[6], shape[7]
        conditions: list[ColumnElement[bool]] = []
        if has_status:
            conditions.append(issues.c.status.in_(bindparam("statuses", expanding=True)))
        if has_priority:
            conditions.append(issues.c.priority_rank.in_(bindparam("ranks", expanding=True)))
        if has_reporter:
            conditions.append(issues.c.reporter == bindparam("reporter"))
        if has_text:
            conditions.append(self._text_condition())
        if has_created:
            conditions.append(issues.c.created_at >= bindparam("created_since"))
        if has_updated:
            conditions.append(issues.c.updated_at >= bindparam("updated_since"))
        if shape[8]:
            conditions.append(labels_condition())
        if shape[9] is not None:
            conditions.append(assignee_condition(shape[9]))
        key = _SORT_KEYS[sort]
        items = (
            select(*ISSUE_SELECT)
            .where(*conditions)
            .order_by(key.desc() if direction == "desc" else key.asc(), issues.c.seq.asc())
            .limit(bindparam("limit", type_=Integer))
            .offset(bindparam("offset", type_=Integer))
        )
        count = select(func.count()).select_from(issues).where(*conditions)
        if self._counts is not None:
            snapshot = func.pg_current_snapshot().cast(Text)
            items = items.add_columns(snapshot)
            count = count.add_columns(snapshot)
        return items, count


async def _present_ids(conn: Any, ids: set[str]) -> set[str]:
    """Which of `ids` are stored already."""
    found: set[str] = set()
    listed = sorted(ids)
    for start in range(0, len(listed), _IMPORT_BATCH):
        chunk = listed[start : start + _IMPORT_BATCH]
        rows = await conn.execute(select(issues.c.id).where(issues.c.id.in_(chunk)))
        found.update(rows.scalars())
    return found


def _assignee_mode(assignee: str | None) -> str | None:
    if assignee is None:
        return None
    if assignee == ASSIGNEE_NONE:
        return "none"
    if assignee == ASSIGNEE_ANY:
        return "any"
    return "name"
