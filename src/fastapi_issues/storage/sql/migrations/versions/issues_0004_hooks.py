"""Webhooks: `hooks`, their `hook_deliveries`, and the delivery lease `hook_lease`.

Revision ID: issues_0004
Revises: issues_0003
Create Date: 2026-12-07

Frozen, like the revisions before it: the tables spelled out here, never read from the
current `MetaData`. All three are new and empty, so the upgrade is quick on any size of
database and runs in the caller's one transaction; a database upgraded has no hooks, and
the first one made delivers the events made after it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "issues_0004"
down_revision: str | None = "issues_0003"
branch_labels: Sequence[str] | None = None
depends_on: str | None = None

# SQLite has no time type (integer microseconds since 1970) and only an INTEGER PRIMARY KEY
# is its rowid; JSON is JSONB on PostgreSQL.
_TIMESTAMP = sa.DateTime(timezone=True).with_variant(sa.BigInteger(), "sqlite")
_SEQUENCE_NUMBER = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")


def upgrade() -> None:
    op.create_table(
        "hooks",
        sa.Column("seq", _SEQUENCE_NUMBER, primary_key=True, autoincrement=True),
        sa.Column("id", sa.Text, nullable=False, unique=True),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("secret", sa.LargeBinary, nullable=False),
        sa.Column("events", _JSON, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_at", _TIMESTAMP, nullable=False),
        sa.Column("updated_at", _TIMESTAMP, nullable=False),
        sa.Column("failing_since", _TIMESTAMP, nullable=True),
        sa.Column("cursor", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "hook_deliveries",
        sa.Column("seq", _SEQUENCE_NUMBER, primary_key=True, autoincrement=True),
        sa.Column("id", sa.Text, nullable=False, unique=True),
        sa.Column(
            "hook_id", sa.Text, sa.ForeignKey("hooks.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("event_id", sa.BigInteger, nullable=True),
        sa.Column("event", sa.Text, nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("queued", sa.Boolean, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("status_code", sa.Integer, nullable=True),
        sa.Column("duration_ms", sa.Float, nullable=True),
        sa.Column("response", sa.Text, nullable=True),
        sa.Column("created_at", _TIMESTAMP, nullable=False),
        sa.Column("last_attempt_at", _TIMESTAMP, nullable=True),
        sa.Column("next_attempt_at", _TIMESTAMP, nullable=True),
        sa.CheckConstraint(
            "state IN ('pending', 'delivered', 'failed')", name="ck_hook_deliveries_state"
        ),
    )
    op.create_index(
        "ix_hook_deliveries_due", "hook_deliveries", ["state", "next_attempt_at", "seq"]
    )
    op.create_index(
        "ix_hook_deliveries_queue", "hook_deliveries", ["hook_id", "queued", "state", "seq"]
    )
    op.create_index("ix_hook_deliveries_hook", "hook_deliveries", ["hook_id", "seq"])
    op.create_table(
        "hook_lease",
        sa.Column("id", sa.SmallInteger, primary_key=True, autoincrement=False),
        sa.Column("owner", sa.Text, nullable=False),
        sa.Column("expires_at", _TIMESTAMP, nullable=False),
        sa.CheckConstraint("id = 1", name="ck_hook_lease_one_row"),
    )


def downgrade() -> None:
    # Never run by fastapi-issues itself; for a host that steps its own Alembic back. The
    # hooks and their deliveries go with their tables.
    op.drop_table("hook_lease")
    op.drop_index("ix_hook_deliveries_hook", table_name="hook_deliveries")
    op.drop_index("ix_hook_deliveries_queue", table_name="hook_deliveries")
    op.drop_index("ix_hook_deliveries_due", table_name="hook_deliveries")
    op.drop_table("hook_deliveries")
    op.drop_table("hooks")
