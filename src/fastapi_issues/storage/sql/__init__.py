"""Issues in a SQL database: SQLite on one machine, PostgreSQL for many app processes.

Needs the `sql` extra (SQLAlchemy and aiosqlite), plus `postgres` (asyncpg) for PostgreSQL.

`SQLIssueStore` is made of parts over one `SQLDatabase`: the issues (`_issues`, with the
list statements in `_issue_list`), the labels (`_labels`) and the comments (`_comments`),
which share how an issue is read (`_shared`) and the event log each write records to
(`_events`); live readers learn of other processes' events through `_listen` (SQLite's
`data_version`, PostgreSQL's LISTEN/NOTIFY). Its webhooks, `store.hooks`, are the part in
`_hooks`, delivering from that log. The tables are in `_schema`; `_direct` runs
single statements on the driver's own connections, and `_errors` turns database failures
into `StorageError`s that show no parameters.

Besides the store, this is what another SQL store in the same database builds on (as
`fastapi_issues.auth.sql.SQLUserStore` does): the database object and store base, the
shared `metadata` and column types, and the error handling.

The tables are versioned with Alembic (`_migrations`, the revisions in `migrations/`): the
stores check their branch at start, and `upgrade_database` (the `fastapi-issues db upgrade`
command) brings a whole database to this release. A host running Alembic itself finds here
the `metadata`, the `VERSION_LOCATIONS` and our `VERSION_TABLE` (see docs/upgrading.md).
"""

from __future__ import annotations

from fastapi_issues.storage.sql._database import (
    SQLITE_USERNAME_KEY_FUNCTION,
    SQLDatabase,
    SQLStoreBase,
)
from fastapi_issues.storage.sql._errors import DATABASE_ERRORS, raise_database_error
from fastapi_issues.storage.sql._migrations import (
    BRANCHES,
    VERSION_LOCATIONS,
    VERSION_TABLE,
    Revisions,
    history,
)
from fastapi_issues.storage.sql._schema import CodePointText, metadata
from fastapi_issues.storage.sql._store import SQLIssueStore
from fastapi_issues.storage.sql._upgrade import database_revisions, upgrade_database

__all__ = [
    "BRANCHES",
    "DATABASE_ERRORS",
    "SQLITE_USERNAME_KEY_FUNCTION",
    "VERSION_LOCATIONS",
    "VERSION_TABLE",
    "CodePointText",
    "Revisions",
    "SQLDatabase",
    "SQLIssueStore",
    "SQLStoreBase",
    "database_revisions",
    "history",
    "metadata",
    "raise_database_error",
    "upgrade_database",
]
