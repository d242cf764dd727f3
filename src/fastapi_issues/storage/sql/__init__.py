"""Issues in a SQL database: SQLite on one machine, PostgreSQL for many app processes.

Needs the `sql` extra (SQLAlchemy and aiosqlite), plus `postgres` (asyncpg) for PostgreSQL.

`SQLIssueStore` is made of parts over one `SQLDatabase`: the issues (`_issues`, with the
list statements in `_issue_list`), the labels (`_labels`) and the comments (`_comments`),
which share how an issue is read (`_shared`). The tables are in `_schema`; `_direct` runs
single statements on the driver's own connections, and `_errors` turns database failures
into `StorageError`s that show no parameters.
"""

from __future__ import annotations

from fastapi_issues.storage.sql._store import SQLIssueStore

__all__ = ["SQLIssueStore"]
