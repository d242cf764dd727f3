"""One setting picks the store: `open_issue_store(url)`."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from fastapi_issues.storage import InMemoryIssueStore, JSONFileIssueStore
from fastapi_issues.storage.protocols import StoreLifecycle
from fastapi_issues.storage.sql import SQLIssueStore
from fastapi_issues.storage.urls import (
    StoreURL,
    close_store,
    is_sql_url,
    open_issue_store,
    prepare_store,
    sqlite_path,
)

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        ("sqlite:///{tmp}/issues.db", "sqlite+aiosqlite"),
        ("sqlite+aiosqlite:///{tmp}/issues.db", "sqlite+aiosqlite"),
        ("postgresql://postgres@127.0.0.1:5432/test", "postgresql+asyncpg"),
        ("postgresql+asyncpg://postgres@127.0.0.1:5432/test", "postgresql+asyncpg"),
        ("postgres://postgres@127.0.0.1:5432/test", "postgresql+asyncpg"),
    ],
)
async def test_sql_urls_open_a_sql_store_on_the_async_driver(
    url: str, driver: str, tmp_path: Path
) -> None:
    store = open_issue_store(url.format(tmp=tmp_path))
    try:
        assert isinstance(store, SQLIssueStore)
        assert store.engine.url.drivername == driver
    finally:
        await close_store(store)


def test_plain_paths_and_json_urls_open_a_json_store(tmp_path: Path) -> None:
    for url in (str(tmp_path / "a.json"), f"json://{tmp_path / 'b.json'}"):
        store = open_issue_store(url)
        assert isinstance(store, JSONFileIssueStore)
        store.close()
    assert isinstance(open_issue_store("memory://"), InMemoryIssueStore)


def test_unknown_schemes_are_refused() -> None:
    with pytest.raises(ValueError, match="unsupported issue store URL scheme 'mysql'"):
        open_issue_store("mysql://root@localhost/db")


def test_is_sql_url() -> None:
    assert is_sql_url("sqlite:///x.db")
    assert is_sql_url("postgresql+asyncpg://h/db")
    assert not is_sql_url("data/issues.json")
    assert not is_sql_url("memory://")
    assert not is_sql_url("C:\\data\\issues.json")


@pytest.mark.parametrize(
    ("url", "backend", "scheme", "path"),
    [
        ("memory://", "memory", "memory", None),
        ("data/issues.json", "json", "", "data/issues.json"),
        ("C:\\data\\issues.json", "json", "", "C:\\data\\issues.json"),
        ("json:///srv/issues.json", "json", "json", "/srv/issues.json"),
        ("sqlite:///data/issues.db", "sqlite", "sqlite", "data/issues.db"),
        ("sqlite+aiosqlite:////srv/i.db?mode=rwc", "sqlite", "sqlite+aiosqlite", "/srv/i.db"),
        ("sqlite://", "sqlite", "sqlite", None),
        ("sqlite:///:memory:", "sqlite", "sqlite", None),
        ("postgresql://u@h:5432/db", "postgresql", "postgresql", None),
        ("postgres://u@h/db", "postgresql", "postgres", None),
        ("postgresql+asyncpg://u@h/db", "postgresql", "postgresql+asyncpg", None),
    ],
)
def test_store_urls_are_parsed_once_into_backend_and_file(
    url: str, backend: str, scheme: str, path: str | None
) -> None:
    parsed = StoreURL.parse(url)
    assert parsed == StoreURL(url, backend, scheme, path)  # type: ignore[arg-type]
    assert parsed.is_sql is (backend in ("sqlite", "postgresql"))
    assert is_sql_url(url) is parsed.is_sql
    assert sqlite_path(url) == (path if backend == "sqlite" else None)


def test_unknown_schemes_name_the_store_they_were_for() -> None:
    with pytest.raises(ValueError, match="unsupported issue store URL scheme 'memory'"):
        StoreURL.parse("memory://elsewhere")
    with pytest.raises(ValueError, match="unsupported user store URL scheme 'ftp' in 'ftp://h/x'"):
        StoreURL.parse("ftp://h/x", what="user store")
    assert not is_sql_url("ftp://h/x")
    assert sqlite_path("ftp://h/x") is None


def test_a_parsed_url_opens_the_same_store(tmp_path: Path) -> None:
    store = open_issue_store(StoreURL.parse(f"json://{tmp_path / 'issues.json'}"))
    assert isinstance(store, JSONFileIssueStore)
    assert store.path == tmp_path / "issues.json"
    store.close()


def test_a_missing_driver_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "asyncpg", None)
    with pytest.raises(
        ValueError, match=r"postgresql stores need the 'postgres' extra \(asyncpg is"
    ):
        open_issue_store("postgresql://postgres@127.0.0.1:5432/test")


async def test_prepare_and_close_work_for_every_kind_of_store(tmp_path: Path) -> None:
    sql = open_issue_store(f"sqlite:///{tmp_path / 'issues.db'}")
    await prepare_store(sql)
    assert (tmp_path / "issues.db").exists()
    await close_store(sql)
    json_store = open_issue_store(str(tmp_path / "issues.json"))
    await prepare_store(json_store)
    await close_store(json_store)
    memory = open_issue_store("memory://")
    await prepare_store(memory)
    await close_store(memory)


async def test_every_shipped_store_opens_and_closes_through_the_protocol(tmp_path: Path) -> None:
    for url in ("memory://", str(tmp_path / "issues.json"), f"sqlite:///{tmp_path / 'i.db'}"):
        store = open_issue_store(url)
        assert isinstance(store, StoreLifecycle)
        await store.open()
        await store.aclose()
    assert (tmp_path / "i.db").exists()


async def test_the_json_store_closes_its_lock_files(tmp_path: Path) -> None:
    store = JSONFileIssueStore(tmp_path / "issues.json")
    closed: list[str] = []
    store.close = lambda: closed.append("close")  # type: ignore[method-assign]
    await close_store(store)
    assert closed == ["close"]


async def test_stores_of_your_own_are_opened_and_closed_if_they_say_how() -> None:
    calls: list[str] = []

    class Managed(StoreLifecycle):
        async def aclose(self) -> None:
            calls.append("aclose")

    class Plain:
        """A 0.1 store: the protocol's methods and nothing else."""

    await prepare_store(Managed())  # the default `open`: nothing to do
    await close_store(Managed())
    assert calls == ["aclose"]
    await prepare_store(Plain())
    await close_store(Plain())
