"""For your Alembic env.py: leave fastapi-issues' tables to fastapi-issues.

Pass `include_name=include_name` to `context.configure(...)`: autogenerate
then neither drops our tables (they are not in your metadata) nor tries to
manage them.
"""

from __future__ import annotations

import fastapi_issues.auth.sql  # noqa: F401 - puts the users table on `metadata` too
from fastapi_issues.storage.sql import VERSION_TABLE, metadata

FASTAPI_ISSUES_TABLES = {*metadata.tables, VERSION_TABLE}


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Whether Alembic's autogenerate looks at this name: not at our tables."""
    if type_ == "table":
        return name not in FASTAPI_ISSUES_TABLES
    return True
