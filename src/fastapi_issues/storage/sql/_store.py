"""`SQLIssueStore`: the issue, label and comment parts over one database, behind the store
protocols, and its webhooks as the `hooks` part."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime

from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine

from fastapi_issues.schemas import (
    CommentCreate,
    CommentOut,
    CommentUpdate,
    EventOut,
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
from fastapi_issues.storage.protocols import HookStore
from fastapi_issues.storage.query import (
    CommentPage,
    EventPage,
    EventQuery,
    IssuePage,
    IssueQuery,
    LabelPage,
)
from fastapi_issues.storage.sql._comments import SQLComments
from fastapi_issues.storage.sql._database import SQLDatabase, SQLStoreBase
from fastapi_issues.storage.sql._events import EventLog
from fastapi_issues.storage.sql._hooks import SQLHooks
from fastapi_issues.storage.sql._issues import SQLIssues
from fastapi_issues.storage.sql._labels import SQLLabels
from fastapi_issues.storage.sql._listen import EventWatch

__all__ = ["SQLIssueStore"]


class SQLIssueStore(SQLStoreBase):
    """Issues, labels and comments in tables of a SQLite or PostgreSQL database.

    Every write records its events (`EventStore`) in its own transaction, numbered in the
    order they become visible (see `_events.py`). Every filter, sort and page of `list` is
    one indexed query; `update` and `delete` with an
    expected version check it in the same statement as the write, so any number of app
    processes can share the database. SQLite runs in WAL mode, waits for other processes'
    writes (busy timeout), and syncs every commit to disk.

    The tables are created (or checked) on first use, or up front with `create_schema()`;
    `lifespan` does that and disposes of the engine, for `FastAPI(lifespan=store.lifespan)`.
    They are versioned with Alembic (branch `issues`): a database older than this release
    is upgraded at start only with `auto_upgrade`, else refused until
    `fastapi-issues db upgrade` has run (see docs/upgrading.md).

    Args:
        url_or_engine: a database URL, `sqlite:///issues.db` or
            `postgresql://user@host/db` (the async drivers aiosqlite and asyncpg are filled
            in; explicit `sqlite+aiosqlite://` and `postgresql+asyncpg://` work too), or an
            `AsyncEngine`, which stays yours to dispose of.
        schema: the PostgreSQL schema to keep the tables in, created if missing (default:
            the connection's `search_path`).
        clock: gives the time every write records (default: the system's, in UTC).
        auto_upgrade: upgrade a database older than this release at start, instead of
            refusing it (default: True for SQLite, False for PostgreSQL, where several app
            processes share the database and the upgrade is best a deployment step).
        deliveries_kept: how many finished deliveries each webhook keeps (see
            `HookStore`; default `FINISHED_KEPT`).
    """

    def __init__(
        self,
        url_or_engine: str | URL | AsyncEngine,
        *,
        schema: str | None = None,
        clock: Clock = system_clock,
        auto_upgrade: bool | None = None,
        deliveries_kept: int = FINISHED_KEPT,
    ) -> None:
        self._db = SQLDatabase(
            url_or_engine, branch="issues", schema=schema, auto_upgrade=auto_upgrade
        )
        wake = EventWake()
        self._events = EventLog(self._db, wake)
        self._watch = EventWatch(self._db.engine, schema, wake, self._events.last_event_id)
        self._issues = SQLIssues(self._db, clock, self._events)
        self._labels = SQLLabels(self._db, clock, self._events)
        self._comments = SQLComments(self._db, clock, self._events)
        self.hooks: HookStore = SQLHooks(self._db, clock, self._events, kept=deliveries_kept)
        """The webhooks of this database (`HookStore`), beside the event log they deliver."""

    # -- issues --------------------------------------------------------------------------

    async def create(self, data: IssueCreate, *, reporter: str | None = None) -> IssueOut:
        """See `IssueStore.create`."""
        return await self._issues.create(data, reporter=reporter)

    async def get(self, issue_id: str) -> IssueOut:
        """See `IssueStore.get`."""
        return await self._issues.get(issue_id)

    async def list(self, query: IssueQuery) -> IssuePage:
        """See `IssueStore.list`."""
        return await self._issues.list(query)

    async def update(
        self,
        issue_id: str,
        changes: IssueUpdate,
        *,
        expected_version: int | None = None,
        actor: str | None = None,
    ) -> IssueOut:
        """See `IssueStore.update`."""
        return await self._issues.update(
            issue_id, changes, expected_version=expected_version, actor=actor
        )

    async def delete(
        self, issue_id: str, *, expected_version: int | None = None, actor: str | None = None
    ) -> None:
        """See `IssueStore.delete`."""
        await self._issues.delete(issue_id, expected_version=expected_version, actor=actor)

    # -- labels --------------------------------------------------------------------------

    async def create_label(self, data: LabelCreate) -> LabelOut:
        """See `LabelStore.create_label`."""
        return await self._labels.create_label(data)

    async def get_label(self, name: str) -> LabelOut:
        """See `LabelStore.get_label`."""
        return await self._labels.get_label(name)

    async def list_labels(self, *, offset: int = 0, limit: int = 100) -> LabelPage:
        """See `LabelStore.list_labels`."""
        return await self._labels.list_labels(offset=offset, limit=limit)

    async def update_label(self, name: str, changes: LabelUpdate) -> LabelOut:
        """See `LabelStore.update_label`."""
        return await self._labels.update_label(name, changes)

    async def delete_label(self, name: str, *, actor: str | None = None) -> None:
        """See `LabelStore.delete_label`."""
        await self._labels.delete_label(name, actor=actor)

    async def set_issue_labels(
        self,
        issue_id: str,
        names: Sequence[str],
        *,
        expected_version: int | None = None,
        actor: str | None = None,
    ) -> IssueOut:
        """See `LabelStore.set_issue_labels`."""
        return await self._labels.set_issue_labels(
            issue_id, names, expected_version=expected_version, actor=actor
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
        return await self._labels.add_issue_labels(
            issue_id, names, expected_version=expected_version, actor=actor
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
        return await self._labels.remove_issue_labels(
            issue_id, names, expected_version=expected_version, actor=actor
        )

    # -- comments ------------------------------------------------------------------------

    async def list_comments(
        self,
        issue_id: str,
        *,
        offset: int = 0,
        limit: int = 20,
        since: datetime | None = None,
    ) -> CommentPage:
        """See `CommentStore.list_comments`."""
        return await self._comments.list_comments(issue_id, offset=offset, limit=limit, since=since)

    async def create_comment(
        self, issue_id: str, data: CommentCreate, *, author: str | None = None
    ) -> CommentOut:
        """See `CommentStore.create_comment`."""
        return await self._comments.create_comment(issue_id, data, author=author)

    async def get_comment(self, issue_id: str, comment_id: str) -> CommentOut:
        """See `CommentStore.get_comment`."""
        return await self._comments.get_comment(issue_id, comment_id)

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
        return await self._comments.update_comment(
            issue_id, comment_id, changes, expected_version=expected_version, actor=actor
        )

    async def delete_comment(
        self,
        issue_id: str,
        comment_id: str,
        *,
        expected_version: int | None = None,
        actor: str | None = None,
    ) -> None:
        """See `CommentStore.delete_comment`."""
        await self._comments.delete_comment(
            issue_id, comment_id, expected_version=expected_version, actor=actor
        )

    # -- events --------------------------------------------------------------------------

    async def list_events(self, query: EventQuery) -> Sequence[EventOut]:
        """See `EventStore.list_events`."""
        return await self._events.list_events(query)

    async def issue_events(self, issue_id: str, *, offset: int = 0, limit: int = 20) -> EventPage:
        """See `EventStore.issue_events`."""
        return await self._events.issue_events(issue_id, offset=offset, limit=limit)

    async def last_event_id(self) -> int:
        """See `EventStore.last_event_id`."""
        return await self._events.last_event_id()

    async def prune_events(self, *, before: datetime) -> int:
        """See `EventStore.prune_events`."""
        return await self._events.prune_events(before=before)

    async def wait_for_events(self, after: int) -> None:
        """Return once an event after `after` may be visible: at once for this process's
        writes; for others', on PostgreSQL when their NOTIFY arrives, on SQLite within about
        50 ms (`PRAGMA data_version`); see `EventStore` and `_listen.py`."""
        await self._watch.wait(after)

    async def aclose(self) -> None:
        """Stop watching for other processes' events, then close the database connections
        (unless the engine was passed in)."""
        await self._watch.aclose()
        await super().aclose()

    # -- copying between stores ----------------------------------------------------------

    async def import_issues(self, issues_to_import: Sequence[IssueOut]) -> int:
        """Add issues as they are (ids, times, versions), in order, skipping ids already here.

        Returns how many were added.
        """
        return await self._issues.import_issues(issues_to_import)

    def export_issues(self) -> AsyncIterator[IssueOut]:
        """Every issue, in creation order, read a batch at a time."""
        return self._issues.export_issues()

    async def import_labels(self, labels_to_import: Sequence[LabelOut]) -> int:
        """Add labels as they are; see `TrackerImporter`."""
        return await self._labels.import_labels(labels_to_import)

    def export_labels(self) -> AsyncIterator[LabelOut]:
        """Every label, by name; see `TrackerExporter`."""
        return self._labels.export_labels()

    async def import_comments(self, comments_to_import: Sequence[CommentOut]) -> int:
        """Add comments as they are, in order; see `TrackerImporter`."""
        return await self._comments.import_comments(comments_to_import)

    def export_comments(self) -> AsyncIterator[CommentOut]:
        """Every comment, oldest first; see `TrackerExporter`."""
        return self._comments.export_comments()
