"""The example app serves labels and comments with the same auth and policy."""

from __future__ import annotations

from pathlib import Path

import pytest
from examples.app import create_app

from tests.servers import running

pytestmark = pytest.mark.anyio

ISSUE = {"title": "Login fails", "description": "On every browser"}


@pytest.mark.parametrize("kind", ["json", "sqlite"])
async def test_labels_comments_assignees_and_closing_with_auth(tmp_path: Path, kind: str) -> None:
    url = {
        "json": str(tmp_path / "data" / "issues.json"),
        "sqlite": f"sqlite:///{tmp_path / 'data' / 'issues.db'}",
    }[kind]
    env = {
        "ISSUES_STORAGE_URL": url,
        "FASTAPI_ISSUES_DEMO": "1",
        "FASTAPI_ISSUES_SECRET_KEY": "collab-example-test-key-" + "k" * 40,
    }
    async with running(create_app(env)) as client:
        assert (await client.get("/api/v1/labels")).status_code == 401
        assert (await client.get("/api/v1/issues/x/comments")).status_code == 401
        token = (
            await client.post("/token", data={"username": "johndoe", "password": "secret"})
        ).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}

        assert (await client.post("/api/v1/labels", json={"name": "bug"}, headers=auth)).is_success
        issue = (
            await client.post(
                "/api/v1/issues", json={**ISSUE, "assignees": ["johndoe"]}, headers=auth
            )
        ).json()
        url = f"/api/v1/issues/{issue['id']}"
        labelled = await client.post(f"{url}/labels", json={"labels": ["BUG"]}, headers=auth)
        assert labelled.json()["labels"] == ["bug"]
        note = await client.post(f"{url}/comments", json={"body": "On it."}, headers=auth)
        assert note.json()["author"] == "johndoe"
        closed = await client.patch(url, json={"status": "closed"}, headers=auth)
        assert closed.json()["closed_by"] == "johndoe"
        assert closed.json()["comment_count"] == 1
    if kind == "sqlite":
        return
    data = tmp_path / "data"
    assert {p.name for p in data.glob("*.json")} == {
        "issues.json",
        "labels.json",
        "comments.json",
        "users.json",
    }
