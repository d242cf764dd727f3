"""The example app serves labels and comments with the same auth and policy."""

from __future__ import annotations

from pathlib import Path

import httpx
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
        # Only admins create labels.
        "FASTAPI_ISSUES_ADMINS": "johndoe",
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
        # The login throttle's counts, shared by every worker (written at the first login).
        "login-failures.json",
    }


STORES = {
    "json": lambda tmp: str(tmp / "data" / "issues.json"),
    "sqlite": lambda tmp: f"sqlite:///{tmp / 'data' / 'issues.db'}",
}


async def sign_up(client: httpx.AsyncClient, name: str) -> dict[str, str]:
    body = {"username": name, "password": "a long passphrase"}
    assert (await client.post("/register", json=body)).status_code == 201
    login = {"username": name, "password": "a long passphrase"}
    token = (await client.post("/token", data=login)).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("kind", sorted(STORES))
async def test_only_admins_create_rename_or_delete_labels(tmp_path: Path, kind: str) -> None:
    env = {
        "ISSUES_STORAGE_URL": STORES[kind](tmp_path),
        "FASTAPI_ISSUES_REGISTRATION": "on",
        "FASTAPI_ISSUES_ADMINS": "root",
        "FASTAPI_ISSUES_SECRET_KEY": "collab-example-test-key-" + "k" * 40,
    }
    async with running(create_app(env)) as client:
        ada, root = await sign_up(client, "ada"), await sign_up(client, "root")
        bug = {"name": "bug", "color": "d73a4a"}
        assert (await client.post("/api/v1/labels", json=bug, headers=root)).status_code == 201
        # An issue of root's carrying `bug`: ada may not edit it, nor strip its label.
        issue = (await client.post("/api/v1/issues", json=ISSUE, headers=root)).json()
        url = f"/api/v1/issues/{issue['id']}"
        labelled = await client.put(f"{url}/labels", json={"labels": ["bug"]}, headers=root)
        assert labelled.status_code == 200

        async def state() -> tuple[object, object]:
            labels = (await client.get("/api/v1/labels", headers=ada)).json()
            return labels, (await client.get(url, headers=ada)).json()["labels"]

        before = await state()
        for method, path, body in [
            ("POST", "/api/v1/labels", {"name": "wontfix"}),
            ("PATCH", "/api/v1/labels/bug", {"name": "feature", "color": "000000"}),
            ("DELETE", "/api/v1/labels/bug", None),
        ]:
            refused = await client.request(method, path, json=body, headers=ada)
            assert refused.status_code == 403, (method, refused.text)
        assert await state() == before
        assert before[1] == ["bug"]
        # Labelling stays an edit of the issue: ada labels her own, not root's.
        own = (await client.post("/api/v1/issues", json=ISSUE, headers=ada)).json()
        mine = await client.post(
            f"/api/v1/issues/{own['id']}/labels", json={"labels": ["bug"]}, headers=ada
        )
        assert mine.status_code == 200
        theirs = await client.delete(f"{url}/labels/bug", headers=ada)
        assert theirs.status_code == 403
        # The admin may do all three.
        renamed = await client.patch("/api/v1/labels/bug", json={"name": "defect"}, headers=root)
        assert renamed.status_code == 200
        assert (await client.get(url, headers=ada)).json()["labels"] == ["defect"]
        made = await client.post("/api/v1/labels", json={"name": "wontfix"}, headers=root)
        assert made.status_code == 201
        assert (await client.delete("/api/v1/labels/defect", headers=root)).status_code == 204
        assert (await client.get(url, headers=ada)).json()["labels"] == []
