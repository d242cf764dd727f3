"""Usernames unique by their normalised key, token revocation, stored admins, login counts.

Revision ID: users_0002
Revises: users_0001
Create Date: 2026-12-07

- `users.name_key`: the username normalised (NFKC, case-folded), under a unique index, so
  the database itself refuses `Alice` beside `alice`. Filled from the rows there are. Rows
  stored before names were unique may collide: the upgrade neither fails on them nor changes
  them. Of each colliding group, the first name in code-point order holds the key (so no new
  name like theirs can be added) and the others keep none (NULL, which a unique index
  allows); every one of them still logs in by its exact name, and
  `fastapi-issues user check` lists them.
- `users.token_generation` (0): tokens minted before it was last bumped are refused.
- `users.is_admin` (false): admins stored in the database.
- `login_failures`: the login throttle's counts, shared by every worker.

Frozen, as every revision: the normalisation is written out here, not imported.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from fastapi_issues.storage.errors import StorageError

revision = "users_0002"
down_revision: str | None = "users_0001"
branch_labels: Sequence[str] | None = None
depends_on: str | None = None

_NAME_KEY_INDEX = "users_name_key"


def _name_key(username: str) -> str:
    folded = unicodedata.normalize("NFKC", username).casefold()
    return unicodedata.normalize("NFKC", folded)


def _schema() -> str | None:
    translate = op.get_bind().get_execution_options().get("schema_translate_map") or {}
    schema: str | None = translate.get(None)
    return schema


def _fill_name_keys(schema: str | None) -> None:
    users = sa.table(
        "users", sa.column("username", sa.Text), sa.column("name_key", sa.Text), schema=schema
    )
    names = [row[0] for row in op.get_bind().execute(sa.select(users.c.username))]
    keyed: dict[str, str] = {}
    # Code-point order, as the table lists them: the same holder on every database.
    for name in sorted(names):
        keyed.setdefault(_name_key(name), name)
    if not keyed:
        return
    op.get_bind().execute(
        users.update()
        .where(users.c.username == sa.bindparam("holder"))
        .values(name_key=sa.bindparam("key")),
        [{"holder": name, "key": key} for key, name in keyed.items()],
    )


def upgrade() -> None:
    schema = _schema()
    if sa.inspect(op.get_bind()).has_table("login_failures", schema=schema):
        raise StorageError(
            "table login_failures exists but was not made by fastapi-issues; "
            "use another database or schema"
        )
    # The schema named: Alembic's ALTER statements are not renamed by the schema translation.
    op.add_column("users", sa.Column("name_key", sa.Text, nullable=True), schema=schema)
    op.add_column(
        "users",
        sa.Column("token_generation", sa.Integer, nullable=False, server_default=sa.text("0")),
        schema=schema,
    )
    op.add_column(
        "users",
        sa.Column("is_admin", sa.Boolean, nullable=False, server_default=sa.false()),
        schema=schema,
    )
    _fill_name_keys(schema)
    op.create_index(_NAME_KEY_INDEX, "users", ["name_key"], unique=True, schema=schema)
    op.create_table(
        "login_failures",
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("last", sa.Float, nullable=False),
        sa.Column("expires", sa.Float, nullable=False),
    )
    op.create_index("login_failures_expires", "login_failures", ["expires"], schema=schema)


def downgrade() -> None:
    schema = _schema()
    op.drop_table("login_failures")
    op.drop_index(_NAME_KEY_INDEX, "users", schema=schema)
    with op.batch_alter_table("users", schema=schema) as batch:
        batch.drop_column("is_admin")
        batch.drop_column("token_generation")
        batch.drop_column("name_key")
