"""Issues get an optional due date (`due_date`), with an index for its filters and sort.

Revision ID: issues_0002
Revises: issues_0001
Create Date: 2026-12-07

Frozen, like revision 1: the column and index spelled out here, never read from the current
`MetaData`. Every existing issue reads as having no due date (NULL): nothing is rewritten,
so the upgrade is quick on any size of table. SQLite adds a nullable column with a plain
ALTER TABLE (no copy of the table); both databases run it in the caller's one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision = "issues_0002"
down_revision: str | None = "issues_0001"
branch_labels: Sequence[str] | None = None
depends_on: str | None = None


def _schema() -> str | None:
    # ALTER names its table as given: the schema translation of the store's connection
    # (which `create_table` follows) does not reach it.
    translate = op.get_bind().get_execution_options().get("schema_translate_map") or {}
    schema: str | None = translate.get(None)
    return schema


def upgrade() -> None:
    schema = _schema()
    # PostgreSQL's date; SQLAlchemy's Date keeps YYYY-MM-DD text on SQLite.
    op.add_column("issues", sa.Column("due_date", sa.Date, nullable=True), schema=schema)
    op.create_index("ix_issues_due_date", "issues", ["due_date", "seq"], schema=schema)


def downgrade() -> None:
    # Never run by fastapi-issues itself; for a host that steps its own Alembic back. SQLite
    # drops a column in place since 3.35, which Alembic leaves to batch mode.
    schema = _schema()
    op.drop_index("ix_issues_due_date", table_name="issues", schema=schema)
    with op.batch_alter_table("issues", schema=schema, recreate="never") as batch:
        batch.drop_column("due_date")
