"""Open a store from one URL-like setting, so a deployment picks its store with an env var.

`StoreURL.parse` is the one place that reads a store URL's scheme; the issue store, the user
store, `migrate` and the CLI all ask the parsed `StoreURL`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from fastapi_issues.storage.protocols import StoreLifecycle, TrackerStore
from fastapi_issues.storage.records.json_file import JSONFileIssueStore
from fastapi_issues.storage.records.memory import InMemoryIssueStore

__all__ = [
    "StoreBackend",
    "StoreURL",
    "close_store",
    "is_sql_url",
    "open_issue_store",
    "prepare_store",
    "sqlite_path",
]

StoreBackend = Literal["memory", "json", "sqlite", "postgresql"]
"""The kinds of store a URL can name."""

_SQL_BACKENDS: dict[str, StoreBackend] = {
    "sqlite": "sqlite",
    "postgresql": "postgresql",
    "postgres": "postgresql",
}


@dataclass(frozen=True)
class StoreURL:
    """A store URL, parsed once: which kind of store it names, and where.

    - `memory://`: `backend` `"memory"`, no `path`;
    - `json:///path/issues.json`, or a plain path: `"json"`, `path` the file;
    - `sqlite:///path/issues.db`: `"sqlite"`, `path` the database file (None for an
      in-memory database);
    - `postgresql://user@host:5432/db` (or `postgres://`): `"postgresql"`, no `path`.

    SQL URLs may name a driver (`sqlite+aiosqlite://`, `postgresql+asyncpg://`); `text` is
    what to give SQLAlchemy, and the SQL stores fill in the async driver when none is named.

    Attributes:
        text: the URL as given.
        backend: the kind of store it names.
        scheme: the scheme as given, driver included (`""` for a plain path).
        path: the JSON file, or the SQLite database file.
    """

    text: str
    backend: StoreBackend
    scheme: str = ""
    path: str | None = None

    @classmethod
    def parse(cls, text: str, *, what: str = "issue store") -> StoreURL:
        """Parse `text`; `ValueError` naming the scheme (and `what` store it was to open)
        when it is none of the above."""
        if "://" not in text:
            return cls(text, "json", path=text)
        scheme, rest = text.split("://", 1)
        if text == "memory://":
            return cls(text, "memory", scheme)
        if scheme == "json":
            return cls(text, "json", scheme, rest)
        backend = _SQL_BACKENDS.get(scheme.split("+", 1)[0])
        if backend is None:
            raise ValueError(f"unsupported {what} URL scheme {scheme!r} in {text!r}")
        path = _sqlite_file(rest) if backend == "sqlite" else None
        return cls(text, backend, scheme, path)

    @property
    def is_sql(self) -> bool:
        """Whether the URL names a SQLite or PostgreSQL database."""
        return self.backend in ("sqlite", "postgresql")

    def missing_extra(self, exc: ImportError) -> ValueError:
        """The error to raise when this SQL URL is opened without SQLAlchemy or its driver:
        it names the extra to install (`postgres` brings `sql` with it)."""
        extra = "postgres" if self.backend == "postgresql" else "sql"
        return ValueError(
            f"{self.scheme} stores need the '{extra}' extra ({exc.name} is missing): "
            f"pip install 'fastapi-issues[{extra}]'"
        )


def _sqlite_file(rest: str) -> str | None:
    # `sqlite:///relative.db`, `sqlite:////absolute.db`; `sqlite://` and `:memory:` name none.
    if not rest.startswith("/"):
        return None
    path = rest[1:].split("?", 1)[0]
    return path if path and path != ":memory:" else None


def is_sql_url(url: str) -> bool:
    """Whether `url` names a SQLite or PostgreSQL database, with or without a `+driver`
    (False for unknown schemes too)."""
    try:
        return StoreURL.parse(url).is_sql
    except ValueError:
        return False


def sqlite_path(url: str) -> str | None:
    """The file a `sqlite:///path` URL names (None for other URLs and in-memory SQLite)."""
    try:
        where = StoreURL.parse(url)
    except ValueError:
        return None
    return where.path if where.backend == "sqlite" else None


def open_issue_store(url: str | StoreURL) -> TrackerStore:
    """The issue store that `url` names.

    - `memory://`: an `InMemoryIssueStore` (nothing is kept);
    - `json:///path/issues.json`, or a plain path: a `JSONFileIssueStore`;
    - `sqlite:///path/issues.db`: a `SQLIssueStore` on SQLite (aiosqlite);
    - `postgresql://user@host:5432/db`: a `SQLIssueStore` on PostgreSQL (asyncpg).

    Explicit drivers (`sqlite+aiosqlite://`, `postgresql+asyncpg://`) work too. SQL stores
    need the `sql` (and for PostgreSQL `postgres`) extra. Pair this with `prepare_store` at
    start-up and `close_store` at shutdown.
    """
    where = url if isinstance(url, StoreURL) else StoreURL.parse(url)
    if where.is_sql:
        try:
            from fastapi_issues.storage.sql import SQLIssueStore

            # The engine imports the driver (aiosqlite, asyncpg) when it is made.
            return SQLIssueStore(where.text)
        except ImportError as exc:
            raise where.missing_extra(exc) from exc
    if where.path is None:
        return InMemoryIssueStore()
    return JSONFileIssueStore(where.path)


async def prepare_store(store: object) -> None:
    """Get a store ready to serve: `await store.open()` for a `StoreLifecycle` (SQL stores
    create their tables, and fail here, not on the first request, if the database cannot be
    reached). A store without `open` and `aclose` needs nothing."""
    if isinstance(store, StoreLifecycle):
        await store.open()


async def close_store(store: object) -> None:
    """Release what a store holds (connections, file handles): `await store.aclose()` for a
    `StoreLifecycle`; a store without `open` and `aclose` holds nothing to release."""
    if isinstance(store, StoreLifecycle):
        await store.aclose()
