"""Open a store from one URL-like setting, so a deployment picks its store with an env var."""

from __future__ import annotations

import inspect

from fastapi_issues.storage.protocols import TrackerStore
from fastapi_issues.storage.records.json_file import JSONFileIssueStore
from fastapi_issues.storage.records.memory import InMemoryIssueStore

__all__ = ["close_store", "is_sql_url", "open_issue_store", "prepare_store", "sqlite_path"]

_SQL_SCHEMES = frozenset({"sqlite", "postgresql", "postgres"})


def is_sql_url(url: str) -> bool:
    """Whether `url` names a SQLite or PostgreSQL database, with or without a `+driver`."""
    if "://" not in url:
        return False
    return url.split("://", 1)[0].split("+", 1)[0] in _SQL_SCHEMES


def sqlite_path(url: str) -> str | None:
    """The file a `sqlite:///path` URL names (None for other URLs and in-memory SQLite)."""
    if not is_sql_url(url) or not url.startswith("sqlite"):
        return None
    rest = url.split("://", 1)[1]
    if not rest.startswith("/"):
        return None
    path = rest[1:].split("?", 1)[0]
    return path if path and path != ":memory:" else None


def sql_extra_missing(url: str, exc: ImportError) -> ValueError:
    """The error to raise when a SQL `url` is opened without SQLAlchemy installed."""
    return ValueError(
        f"{url.split('://', 1)[0]} stores need the 'sql' extra ({exc.name} is missing): "
        "pip install 'fastapi-issues[sql]' (and '[postgres]' for PostgreSQL)"
    )


def open_issue_store(url: str) -> TrackerStore:
    """The issue store that `url` names.

    - `memory://`: an `InMemoryIssueStore` (nothing is kept);
    - `json:///path/issues.json`, or a plain path: a `JSONFileIssueStore`;
    - `sqlite:///path/issues.db`: a `SQLIssueStore` on SQLite (aiosqlite);
    - `postgresql://user@host:5432/db`: a `SQLIssueStore` on PostgreSQL (asyncpg).

    Explicit drivers (`sqlite+aiosqlite://`, `postgresql+asyncpg://`) work too. SQL stores
    need the `sql` (and for PostgreSQL `postgres`) extra. Pair this with `prepare_store` at
    start-up and `close_store` at shutdown.
    """
    if url == "memory://":
        return InMemoryIssueStore()
    if url.startswith("json://"):
        return JSONFileIssueStore(url.removeprefix("json://"))
    if is_sql_url(url):
        try:
            from fastapi_issues.storage.sql import SQLIssueStore
        except ImportError as exc:
            raise sql_extra_missing(url, exc) from exc
        return SQLIssueStore(url)
    if "://" in url:
        scheme = url.split("://", 1)[0]
        raise ValueError(f"unsupported issue store URL scheme {scheme!r} in {url!r}")
    return JSONFileIssueStore(url)


async def prepare_store(store: object) -> None:
    """Get a store ready to serve: SQL stores create their tables (and fail here, not on
    the first request, if the database cannot be reached). Others need nothing."""
    create_schema = getattr(store, "create_schema", None)
    if create_schema is not None:
        await create_schema()


async def close_store(store: object) -> None:
    """Release what a store holds (connections, file handles), whichever kind it is."""
    close = getattr(store, "aclose", None) or getattr(store, "close", None)
    if close is not None:
        result = close()
        if inspect.isawaitable(result):
            await result
