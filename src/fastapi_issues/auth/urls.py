"""Open the user store that goes with an issue store URL: users live beside the issues."""

from __future__ import annotations

import os
from pathlib import Path

from fastapi_issues.auth.stores import InMemoryUserStore, JSONFileUserStore
from fastapi_issues.auth.users import UserStore, UserStoreNotFound
from fastapi_issues.storage.urls import StoreURL

__all__ = ["open_user_store", "users_path_for"]


def users_path_for(issues_path: str | os.PathLike[str]) -> Path:
    """Where the users of a JSON issues file live: `users.json` in the same folder."""
    return Path(issues_path).with_name("users.json")


def open_user_store(url: str | StoreURL, *, create: bool = True) -> UserStore:
    """The user store that goes with the issue store `url` names.

    - `memory://`: an `InMemoryUserStore`;
    - `json:///path/issues.json`, or a plain path: a `JSONFileUserStore` on `users.json`
      in the same folder as the issues file;
    - `sqlite:///...` or `postgresql://...`: a `SQLUserStore` in the same database.

    With `create=False`, raise `UserStoreNotFound` when the store does not exist yet instead
    of starting an empty one (the CLI uses this for commands that only read or change users).
    """
    where = url if isinstance(url, StoreURL) else StoreURL.parse(url, what="user store")
    if where.is_sql:
        return _open_sql_user_store(where, create=create)
    if where.path is None:
        return InMemoryUserStore()
    users_path = users_path_for(where.path)
    if not create and not users_path.exists():
        raise UserStoreNotFound(f"no users file at {users_path}")
    return JSONFileUserStore(users_path)


def _open_sql_user_store(where: StoreURL, *, create: bool) -> UserStore:
    try:
        from fastapi_issues.auth.sql import SQLUserStore
    except ImportError as exc:
        raise where.missing_extra(exc) from exc
    if not create and where.path is not None and not Path(where.path).is_file():
        raise UserStoreNotFound(f"no SQLite database at {where.path}")
    try:
        # The engine imports the driver (aiosqlite, asyncpg) when it is made.
        return SQLUserStore(where.text)
    except ImportError as exc:
        raise where.missing_extra(exc) from exc
