"""The example app on a SQL database: one setting, issues and users in the same database."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import anyio.to_thread
import httpx
import pytest
from examples.app import create_app
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine

from fastapi_issues.auth._sql_schema import users
from fastapi_issues.cli import main
from fastapi_issues.storage.sql._schema import issues

pytestmark = pytest.mark.anyio

SECRET_KEY = "example-app-sql-test-key-" + "k" * 40


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'data' / 'issues.db'}"
    return str(request.getfixturevalue("postgres_database"))


async def test_users_added_from_the_cli_log_in_and_report_issues(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("correct horse battery\n"))
    added = await anyio.to_thread.run_sync(
        main, ["user", "add", "grace", "--password-stdin", "--storage-url", database_url]
    )
    assert added == 0

    app = create_app({"ISSUES_STORAGE_URL": database_url, "FASTAPI_ISSUES_SECRET_KEY": SECRET_KEY})
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            anonymous = await client.post("/api/v1/issues", json={})
            assert anonymous.status_code == 401
            login = await client.post(
                "/token", data={"username": "grace", "password": "correct horse battery"}
            )
            assert login.status_code == 200, login.text
            headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
            body = {"title": "Compiler bug", "description": "A moth in relay 70"}
            created = await client.post("/api/v1/issues", json=body, headers=headers)
            assert created.status_code == 201
            assert created.json()["reporter"] == "grace"
            mine = await client.get("/api/v1/issues", params={"reporter": "grace"}, headers=headers)
            assert mine.headers["X-Total-Count"] == "1"

    engine = create_async_engine(database_url.replace("sqlite:", "sqlite+aiosqlite:"))
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(select(users.c.username))).scalars().all() == ["grace"]
            count = select(func.count()).select_from(issues).where(issues.c.reporter == "grace")
            assert (await conn.execute(count)).scalar() == 1
    finally:
        await engine.dispose()
