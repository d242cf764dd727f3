"""The issue tables of fastapi-issues 0.1.0: issues, assignees, labels, comments.

Revision ID: issues_0001
Revises:
Create Date: 2026-12-07

Frozen: the tables as 0.1.0 created them, spelled out here rather than read from the
current `MetaData`, so this revision builds the same schema whatever later ones change. A
database 0.1.0 made (its `fastapi_issues_meta` records these tables) is stamped with this
revision instead of running it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from fastapi_issues.storage.errors import StorageError

revision = "issues_0001"
down_revision: str | None = None
branch_labels: Sequence[str] | None = ("issues",)
depends_on: str | None = None

# SQLite has no time type (integer microseconds since 1970) and only an INTEGER PRIMARY KEY
# is its rowid; PostgreSQL sorts text by code point with the "C" collation.
_TIMESTAMP = sa.DateTime(timezone=True).with_variant(sa.BigInteger(), "sqlite")
_CODE_POINT_TEXT = sa.Text().with_variant(sa.Text(collation="C"), "postgresql")
_SEQUENCE_NUMBER = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

_TABLES = ("issues", "issue_assignees", "labels", "issue_labels", "comments")


def _meta(schema: str | None) -> sa.TableClause:
    # Named with its schema: a lightweight table is not renamed by the schema translation.
    return sa.table(
        "fastapi_issues_meta", sa.column("key", sa.Text), sa.column("value", sa.Text), schema=schema
    )


def _schema() -> str | None:
    translate = op.get_bind().get_execution_options().get("schema_translate_map") or {}
    schema: str | None = translate.get(None)
    return schema


def _create_meta_if_missing(inspector: sa.Inspector) -> None:
    # Shared with the users branch: whichever runs first makes it, as 0.1.0 did.
    if inspector.has_table("fastapi_issues_meta", schema=_schema()):
        return
    op.create_table(
        "fastapi_issues_meta",
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.bulk_insert(_meta(_schema()), [{"key": "schema_version", "value": "1"}])


def _refuse_foreign_tables(inspector: sa.Inspector) -> None:
    # A table of the same name that we did not make (a host app's own) is never adopted.
    for name in _TABLES:
        if inspector.has_table(name, schema=_schema()):
            raise StorageError(
                f"table {name} exists but was not made by fastapi-issues; "
                "use another database or schema"
            )


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    _refuse_foreign_tables(inspector)
    _create_meta_if_missing(inspector)
    _create_issues()
    _create_collaboration()
    op.bulk_insert(
        _meta(_schema()), [{"key": f"table:{name}", "value": "created"} for name in _TABLES]
    )


def _create_issues() -> None:
    op.create_table(
        "issues",
        sa.Column("seq", _SEQUENCE_NUMBER, primary_key=True, autoincrement=True),
        sa.Column("id", sa.Text, nullable=False, unique=True),
        sa.Column("title", _CODE_POINT_TEXT, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("priority", sa.Text, nullable=False),
        sa.Column("priority_rank", sa.SmallInteger, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("created_at", _TIMESTAMP, nullable=False),
        sa.Column("updated_at", _TIMESTAMP, nullable=False),
        sa.Column("reporter", sa.Text, nullable=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("state_reason", sa.Text, nullable=True),
        sa.Column("closed_at", _TIMESTAMP, nullable=True),
        sa.Column("closed_by", sa.Text, nullable=True),
        sa.CheckConstraint("priority IN ('low', 'medium', 'high')", name="ck_issues_priority"),
        sa.CheckConstraint(
            "(priority = 'low' AND priority_rank = 0) OR (priority = 'medium' AND "
            "priority_rank = 1) OR (priority = 'high' AND priority_rank = 2)",
            name="ck_issues_priority_rank",
        ),
        sa.CheckConstraint("status IN ('open', 'in_progress', 'closed')", name="ck_issues_status"),
        sa.CheckConstraint("version >= 1", name="ck_issues_version"),
        sa.CheckConstraint(
            "state_reason IS NULL OR state_reason IN ('completed', 'not_planned', 'duplicate')",
            name="ck_issues_state_reason",
        ),
    )
    op.create_index("ix_issues_created_at", "issues", ["created_at", "seq"])
    op.create_index("ix_issues_updated_at", "issues", ["updated_at", "seq"])
    op.create_index("ix_issues_title", "issues", ["title", "seq"])
    op.create_index("ix_issues_priority", "issues", ["priority_rank", "seq"])
    op.create_index("ix_issues_priority_desc", "issues", [sa.text("priority_rank DESC"), "seq"])
    op.create_index("ix_issues_status", "issues", ["status", "created_at", "seq"])
    op.create_index("ix_issues_reporter", "issues", ["reporter", "created_at", "seq"])


def _create_collaboration() -> None:
    op.create_table(
        "issue_assignees",
        sa.Column(
            "issue_id", sa.Text, sa.ForeignKey("issues.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("username", _CODE_POINT_TEXT, primary_key=True),
    )
    op.create_index("ix_issue_assignees_username", "issue_assignees", ["username", "issue_id"])
    op.create_table(
        "labels",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("name", _CODE_POINT_TEXT, nullable=False),
        sa.Column("name_key", _CODE_POINT_TEXT, nullable=False, unique=True),
        sa.Column("color", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
    )
    op.create_table(
        "issue_labels",
        sa.Column(
            "issue_id", sa.Text, sa.ForeignKey("issues.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column(
            "label_id", sa.Text, sa.ForeignKey("labels.id", ondelete="CASCADE"), primary_key=True
        ),
    )
    op.create_index("ix_issue_labels_label", "issue_labels", ["label_id", "issue_id"])
    op.create_table(
        "comments",
        sa.Column("seq", _SEQUENCE_NUMBER, primary_key=True, autoincrement=True),
        sa.Column("id", sa.Text, nullable=False, unique=True),
        sa.Column(
            "issue_id", sa.Text, sa.ForeignKey("issues.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("author", sa.Text, nullable=True),
        sa.Column("created_at", _TIMESTAMP, nullable=False),
        sa.Column("updated_at", _TIMESTAMP, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.CheckConstraint("version >= 1", name="ck_comments_version"),
    )
    op.create_index("ix_comments_issue", "comments", ["issue_id", "seq"])


def downgrade() -> None:
    for name in reversed(_TABLES):
        op.drop_table(name)
    meta = _meta(_schema())
    op.execute(meta.delete().where(meta.c.key.in_([f"table:{name}" for name in _TABLES])))
