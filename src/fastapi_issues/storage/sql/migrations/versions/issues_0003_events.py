"""The event log: `issue_events`, and `issue_event_ids`, which numbers its events.

Revision ID: issues_0003
Revises: issues_0002
Create Date: 2026-12-07

Frozen, like the revisions before it: the tables spelled out here, never read from the
current `MetaData`. Existing databases start with an empty log (their past changes were
never recorded); the first event written after the upgrade gets id 1. Both tables are new,
so the upgrade is quick on any size of database and runs in the caller's one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "issues_0003"
down_revision: str | None = "issues_0002"
branch_labels: Sequence[str] | None = None
depends_on: str | None = None

# SQLite has no time type (integer microseconds since 1970); JSON is JSONB on PostgreSQL.
_TIMESTAMP = sa.DateTime(timezone=True).with_variant(sa.BigInteger(), "sqlite")
_JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")


def upgrade() -> None:
    op.create_table(
        "issue_events",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("type", sa.Text, nullable=False),
        # No foreign key: a deleted issue's events stay.
        sa.Column("issue_id", sa.Text, nullable=True),
        sa.Column("actor", sa.Text, nullable=True),
        sa.Column("created_at", _TIMESTAMP, nullable=False),
        sa.Column("changes", _JSON, nullable=True),
        sa.Column("issue", _JSON, nullable=True),
        sa.Column("comment", _JSON, nullable=True),
    )
    op.create_index("ix_issue_events_issue", "issue_events", ["issue_id", "id"])
    op.create_index("ix_issue_events_created_at", "issue_events", ["created_at"])
    op.create_table(
        "issue_event_ids",
        sa.Column("id", sa.SmallInteger, primary_key=True, autoincrement=False),
        sa.Column("last_id", sa.BigInteger, nullable=False),
        sa.CheckConstraint("id = 1", name="ck_issue_event_ids_one_row"),
    )


def downgrade() -> None:
    # Never run by fastapi-issues itself; for a host that steps its own Alembic back. The
    # log goes with its tables.
    op.drop_table("issue_event_ids")
    op.drop_index("ix_issue_events_created_at", table_name="issue_events")
    op.drop_index("ix_issue_events_issue", table_name="issue_events")
    op.drop_table("issue_events")
