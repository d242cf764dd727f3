"""The users table of fastapi-issues 0.1.0 (`SQLUserStore`).

Revision ID: users_0001
Revises:
Create Date: 2026-12-07

Frozen, like the issues branch's first revision: the table as 0.1.0 created it. A database
0.1.0 made (its `fastapi_issues_meta` records `users`) is stamped with this revision.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from fastapi_issues.storage.errors import StorageError

revision = "users_0001"
down_revision: str | None = None
branch_labels: Sequence[str] | None = ("users",)
depends_on: str | None = None

_CODE_POINT_TEXT = sa.Text().with_variant(sa.Text(collation="C"), "postgresql")


def _meta(schema: str | None) -> sa.TableClause:
    # Named with its schema: a lightweight table is not renamed by the schema translation.
    return sa.table(
        "fastapi_issues_meta", sa.column("key", sa.Text), sa.column("value", sa.Text), schema=schema
    )


def _schema() -> str | None:
    translate = op.get_bind().get_execution_options().get("schema_translate_map") or {}
    schema: str | None = translate.get(None)
    return schema


def upgrade() -> None:
    schema = _schema()
    inspector = sa.inspect(op.get_bind())
    # A host app's own `users` table is never adopted.
    if inspector.has_table("users", schema=schema):
        raise StorageError(
            "table users exists but was not made by fastapi-issues; use another database or schema"
        )
    # Shared with the issues branch: whichever runs first makes it, as 0.1.0 did.
    if not inspector.has_table("fastapi_issues_meta", schema=schema):
        op.create_table(
            "fastapi_issues_meta",
            sa.Column("key", sa.Text, primary_key=True),
            sa.Column("value", sa.Text, nullable=False),
        )
        op.bulk_insert(_meta(schema), [{"key": "schema_version", "value": "1"}])
    op.create_table(
        "users",
        sa.Column("username", _CODE_POINT_TEXT, primary_key=True),
        sa.Column("email", sa.Text, nullable=True),
        sa.Column("full_name", sa.Text, nullable=True),
        sa.Column("disabled", sa.Boolean, nullable=False),
        sa.Column("hashed_password", sa.Text, nullable=False),
    )
    op.bulk_insert(_meta(schema), [{"key": "table:users", "value": "created"}])


def downgrade() -> None:
    op.drop_table("users")
    meta = _meta(_schema())
    op.execute(meta.delete().where(meta.c.key == "table:users"))
