"""Alembic's environment for fastapi-issues' own migrations.

Run only through `fastapi_issues.storage.sql` (the stores at start-up, the `db` command):
the caller passes a connection that already holds the schema lock and an open transaction,
so every revision applied and the version rows commit together, or not at all.
"""

from __future__ import annotations

from alembic import context

_attributes = context.config.attributes

context.configure(
    connection=_attributes["connection"],
    version_table=_attributes["version_table"],
    version_table_schema=_attributes["schema"],
    on_version_apply=_attributes["on_version_apply"],
)
context.run_migrations()
