"""Copy every issue from one store to another: JSON file to SQLite, SQLite to PostgreSQL, ..."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path

from fastapi_issues.progress import ProgressCallback
from fastapi_issues.schemas import CommentOut, IssueOut
from fastapi_issues.storage.protocols import (
    IssueExporter,
    IssueImporter,
    IssueStore,
    TrackerExporter,
    TrackerImporter,
)
from fastapi_issues.storage.query import IssueQuery
from fastapi_issues.storage.urls import StoreURL, close_store, open_issue_store, prepare_store

__all__ = ["MigrationReport", "migrate", "migrate_stores"]

DEFAULT_BATCH_SIZE = 500


@dataclass(frozen=True)
class MigrationReport:
    """What a migration did: how many records it copied and how many the target had already."""

    issues_copied: int = 0
    issues_already_present: int = 0
    labels_copied: int = 0
    labels_already_present: int = 0
    comments_copied: int = 0
    comments_already_present: int = 0
    users_copied: int = 0
    users_already_present: int = 0


async def migrate(
    from_url: str,
    to_url: str,
    *,
    users: bool = True,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: ProgressCallback | None = None,
) -> MigrationReport:
    """Copy every issue, and every user, from the stores at `from_url` to those at `to_url`.

    URLs are those of `open_issue_store`; users are where `open_user_store` finds them
    (`users.json` beside a JSON issues file, the same database for SQL). Issues keep their
    ids, times, reporter, version and creation order; users keep everything, password hash
    and `disabled` included. Records the target already has (same issue id, same username)
    are left alone, so running it again copies nothing twice.

    With `users=False` only issues are copied (the `auth` extra is needed otherwise). Raises
    `ValueError` when the source does not exist.

    Records are read and written `batch_size` at a time, so a SQL source of any size is
    copied in bounded memory (a JSON file is held in memory whole by its store). `progress`,
    if given, is told `(what, done, total)` after each batch: see
    `fastapi_issues.progress`.
    """
    origin, destination = StoreURL.parse(from_url), StoreURL.parse(to_url)
    _check_source_exists(origin)
    if users:
        _require_auth_extra()
    source = open_issue_store(origin)
    try:
        target = open_issue_store(destination)
        try:
            report = await migrate_stores(source, target, batch_size=batch_size, progress=progress)
        finally:
            await close_store(target)
    finally:
        await close_store(source)
    if not users:
        return report
    copied, present = await _migrate_users(origin, destination, progress or _silent)
    return replace(report, users_copied=copied, users_already_present=present)


async def migrate_stores(
    source: IssueStore,
    target: IssueStore,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: ProgressCallback | None = None,
) -> MigrationReport:
    """Copy every issue from `source` to `target`, both open stores; see `migrate`.

    `target` must implement `IssueImporter`. A `source` that is no `IssueExporter` is read
    page by page in `created_at` order. Labels and comments are copied too when `source` is
    a `TrackerExporter` and `target` a `TrackerImporter`: labels first, so that issues find
    theirs, and comments last, so that they find their issues. `progress` as for `migrate`.
    """
    if not isinstance(target, IssueImporter):
        raise TypeError(f"{type(target).__name__} cannot import issues (no import_issues)")
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    await prepare_store(source)
    await prepare_store(target)
    tell = progress or _silent
    exporter = source if isinstance(source, TrackerExporter) else None
    importer = target if isinstance(target, TrackerImporter) else None
    labels = (0, 0)
    if exporter and importer:
        labels = await _copy_labels(exporter, importer, tell)
    total = (await source.list(IssueQuery(limit=0))).total
    issues = _IssueCopy(target, batch_size, tell, total)
    async for issue in _every_issue(source, batch_size):
        await issues.add(issue)
    await issues.flush()
    comments = (0, 0)
    if exporter and importer:
        comments = await _copy_comments(exporter, importer, batch_size, tell, issues.comment_count)
    return MigrationReport(
        issues_copied=issues.copied,
        issues_already_present=issues.seen - issues.copied,
        labels_copied=labels[0],
        labels_already_present=labels[1] - labels[0],
        comments_copied=comments[0],
        comments_already_present=comments[1] - comments[0],
    )


def _silent(what: str, done: int, total: int | None) -> None:
    """The progress callback of a caller who gave none."""


class _IssueCopy:
    """Issues on their way to the target: a batch at a time, never more in memory."""

    def __init__(
        self, target: IssueImporter, batch_size: int, tell: ProgressCallback, total: int
    ) -> None:
        self._target, self._batch_size, self._tell, self._total = target, batch_size, tell, total
        self._batch: list[IssueOut] = []
        self.seen = self.copied = 0
        self.comment_count = 0
        """The comments of the issues seen: the total the comments' progress counts to."""
        tell("issues", 0, total)

    async def add(self, issue: IssueOut) -> None:
        self._batch.append(issue)
        self.comment_count += issue.comment_count
        if len(self._batch) == self._batch_size:
            await self.flush()

    async def flush(self) -> None:
        if not self._batch:
            return
        self.copied += await self._target.import_issues(self._batch)
        self.seen += len(self._batch)
        self._batch = []
        # More than counted at the start when issues were added since.
        self._tell("issues", self.seen, max(self._total, self.seen))


async def _copy_labels(
    source: TrackerExporter, target: TrackerImporter, tell: ProgressCallback
) -> tuple[int, int]:
    """(copied, seen). All at once: labels are few (a tracker's vocabulary, not its data)."""
    found = [label async for label in source.export_labels()]
    copied = await target.import_labels(found)
    tell("labels", len(found), len(found))
    return copied, len(found)


async def _copy_comments(
    source: TrackerExporter,
    target: TrackerImporter,
    batch_size: int,
    tell: ProgressCallback,
    total: int,
) -> tuple[int, int]:
    """(copied, seen)"""
    copied = seen = 0
    batch: list[CommentOut] = []
    tell("comments", 0, total)
    async for comment in source.export_comments():
        batch.append(comment)
        if len(batch) == batch_size:
            copied += await target.import_comments(batch)
            seen += len(batch)
            batch = []
            tell("comments", seen, max(total, seen))
    if batch:
        copied += await target.import_comments(batch)
        seen += len(batch)
    tell("comments", seen, max(total, seen))
    return copied, seen


async def _every_issue(source: IssueStore, batch_size: int) -> AsyncIterator[IssueOut]:
    if isinstance(source, IssueExporter):
        async for issue in source.export_issues():
            yield issue
        return
    offset = 0
    while True:
        page = await source.list(IssueQuery(offset=offset, limit=batch_size))
        for issue in page.items:
            yield issue
        if len(page.items) < batch_size:
            return
        offset += batch_size


def _require_auth_extra() -> None:
    try:
        import fastapi_issues.auth  # noqa: F401
    except ImportError as exc:
        raise ValueError(f"{exc}; or copy the issues only (users=False, --no-users)") from None


async def _migrate_users(
    origin: StoreURL, destination: StoreURL, tell: ProgressCallback
) -> tuple[int, int]:
    from fastapi_issues.auth.urls import open_user_store
    from fastapi_issues.auth.users import UserExists, UserStoreNotFound

    try:
        source = open_user_store(origin, create=False)
    except UserStoreNotFound:
        return 0, 0  # a deployment without users, as with auth off
    try:
        found = await source.list()  # all at once: users are few
    finally:
        await close_store(source)
    if not found:
        return 0, 0
    target = open_user_store(destination)
    copied = 0
    try:
        for done, user in enumerate(found, start=1):
            try:
                await target.create(user)
                copied += 1
            except UserExists:
                pass
            tell("users", done, len(found))
    finally:
        await close_store(target)
    return copied, len(found) - copied


def _check_source_exists(source: StoreURL) -> None:
    # Opening a missing file or SQLite database would create an empty one and copy nothing.
    if source.backend == "memory":
        raise ValueError("memory:// holds nothing to migrate from")
    if source.path is None:
        return  # PostgreSQL, or an in-memory SQLite database: no file to look for
    if not source.path or not Path(source.path).is_file():
        raise ValueError(f"nothing to migrate from: {source.path or source.text!r} does not exist")
