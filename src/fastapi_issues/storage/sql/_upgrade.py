"""The `db` command's work, for a whole database rather than one store: upgrade every branch
present, or read where the database stands."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Connection
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from fastapi_issues.storage.errors import StorageError
from fastapi_issues.storage.sql._database import SQLDatabase
from fastapi_issues.storage.sql._migrations import (
    BRANCHES,
    ProgressListener,
    Revisions,
    StepListener,
    read_revisions,
    upgrade,
)


async def upgrade_database(
    url_or_engine: str | URL | AsyncEngine,
    *,
    schema: str | None = None,
    on_step: StepListener | None = None,
    progress: ProgressListener | None = None,
) -> Revisions:
    """Bring the fastapi-issues tables of a database to this release's revisions, in one
    transaction under the stores' schema lock: a database made by 0.1.0 is stamped first,
    each branch present (`issues`, `users`) is upgraded, and an empty database gets every
    branch. `on_step` is told a line per revision applied or stamped, and `progress` (see
    `fastapi_issues.progress`) how many of the revisions to take are done.

    Returns where the database stands afterwards. `StorageError` when it cannot be reached,
    fails, or is newer than this release.
    """
    database = SQLDatabase(url_or_engine, branch="issues", schema=schema, auto_upgrade=True)
    try:

        def work(conn: Connection) -> Revisions:
            before = read_revisions(conn, schema)
            present = tuple(b for b in BRANCHES if b not in before.absent) or BRANCHES
            upgrade(conn, present, schema=schema, on_step=on_step, on_progress=progress)
            return read_revisions(conn, schema)

        return await database.run_locked(work)
    finally:
        await database.aclose()


async def database_revisions(
    url_or_engine: str | URL | AsyncEngine, *, schema: str | None = None
) -> Revisions:
    """Where a database stands, changing nothing. `StorageError` as `upgrade_database`, and
    for a SQLite file that does not exist (opening it would make it)."""
    if not isinstance(url_or_engine, AsyncEngine):
        _require_sqlite_file(make_url(url_or_engine))
    database = SQLDatabase(url_or_engine, branch="issues", schema=schema, auto_upgrade=False)
    try:
        return await database.run_locked(lambda conn: read_revisions(conn, schema))
    finally:
        await database.aclose()


def _require_sqlite_file(url: URL) -> None:
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return
    if not Path(url.database).is_file():
        raise StorageError(f"no SQLite database at {url.database}")
