"""The `users` table of `SQLUserStore`, on the SQL store's `metadata` beside the issue
tables, so one database (and one `fastapi_issues_meta` record) holds both."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Table, Text

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
)
"""One row per user; created by `SQLUserStore` (never by `SQLIssueStore`), which records it
in `fastapi_issues_meta` as its own."""
