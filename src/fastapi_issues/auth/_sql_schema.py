"""The tables of `SQLUserStore`, on the SQL store's `metadata` beside the issue tables, so
one database (and one `fastapi_issues_meta` record) holds both. Made and changed only by
the revisions of `auth/migrations/`; these describe what the latest one leaves."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Float, Index, Integer, Table, Text, false, text

from fastapi_issues.storage.sql import CodePointText, metadata

users = Table(
    "users",
    metadata,
    # Listed in code-point order, and compared exactly: "Ada" and "ada" are two users.
    Column("username", CodePointText, primary_key=True),
    Column("email", Text, nullable=True),
    Column("full_name", Text, nullable=True),
    Column("disabled", Boolean, nullable=False),
    Column("hashed_password", Text, nullable=False),
    # `normalize_username(username)`, unique; NULL only for old rows whose names collide
    # with another's that holds the key (see revision users_0002).
    Column("name_key", Text, nullable=True),
    Column("token_generation", Integer, nullable=False, server_default=text("0")),
    Column("is_admin", Boolean, nullable=False, server_default=false()),
    Index("users_name_key", "name_key", unique=True),
)
"""One row per user; created by `SQLUserStore` (never by `SQLIssueStore`), which records it
in `fastapi_issues_meta` as its own."""

login_failures = Table(
    "login_failures",
    metadata,
    Column("key", Text, primary_key=True),
    Column("count", Integer, nullable=False),
    Column("last", Float, nullable=False),
    # Seconds since the epoch after which the row counts for nothing.
    Column("expires", Float, nullable=False),
    Index("login_failures_expires", "expires"),
)
"""The login throttle's failure counts (`SQLThrottleStorage`), shared by every worker."""
