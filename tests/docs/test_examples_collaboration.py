"""The samples of the Collaboration page run here, the way the page tells readers to use them.

Samples: "collaboration/app.py", "collaboration/team.py".
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from types import ModuleType

import httpx
import pytest
from fastapi import FastAPI

from fastapi_issues import JSONFileIssueStore

pytestmark = pytest.mark.anyio

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
NEW_ISSUE = {"title": "Login button does nothing", "description": "Clicking it has no effect."}
_counter = itertools.count()


@pytest.fixture
def load_sample(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[str], ModuleType]]:
    """Import a sample with an empty folder as the working directory, as a reader's project."""
    monkeypatch.chdir(tmp_path)
    loaded: list[ModuleType] = []

    def load(relative: str) -> ModuleType:
        path = EXAMPLES / relative
        name = f"collaboration_sample_{next(_counter)}"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        loaded.append(module)
        return module

    yield load
    for module in loaded:
        sys.modules.pop(module.__name__, None)
        for value in vars(module).values():
            if isinstance(value, JSONFileIssueStore):
                value.close()


@asynccontextmanager
async def serve(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


def test_the_host_app_is_under_twenty_lines() -> None:
    assert len((EXAMPLES / "collaboration" / "app.py").read_text().splitlines()) < 20


async def test_host_app_serves_issues_labels_and_comments(
    load_sample: Callable[[str], ModuleType], tmp_path: Path
) -> None:
    module = load_sample("collaboration/app.py")
    async with serve(module.app) as client:
        bug = await client.post("/api/v1/labels", json={"name": "bug", "color": "#d73a4a"})
        assert bug.status_code == 201
        issue = (await client.post("/api/v1/issues", json=NEW_ISSUE)).json()
        url = f"/api/v1/issues/{issue['id']}"
        labelled = await client.post(f"{url}/labels", json={"labels": ["Bug"]})
        assert labelled.json()["labels"] == ["bug"]
        comment = await client.post(f"{url}/comments", json={"body": "Seen on Safari."})
        assert comment.status_code == 201
        closed = await client.patch(url, json={"status": "closed", "state_reason": "duplicate"})
        assert closed.json()["state_reason"] == "duplicate"
        assert closed.json()["comment_count"] == 1
        listed = await client.get("/api/v1/issues", params={"labels": "bug", "status": "closed"})
        assert [i["id"] for i in listed.json()] == [issue["id"]]
    data = tmp_path / "data"
    assert {p.name for p in data.glob("*.json")} == {"issues.json", "labels.json", "comments.json"}
    assert json.loads((data / "labels.json").read_text())[0]["name"] == "bug"


async def test_team_app_shares_auth_and_policies(
    load_sample: Callable[[str], ModuleType],
) -> None:
    module = load_sample("collaboration/team.py")
    ada, bob, cy = ({"X-User": name} for name in ("ada", "bob", "cy"))
    async with serve(module.app) as client:
        assert (await client.get("/api/v1/labels")).status_code == 401
        # Only leads manage labels.
        assert (
            await client.post("/api/v1/labels", json={"name": "ui"}, headers=bob)
        ).status_code == 403
        assert (
            await client.post("/api/v1/labels", json={"name": "ui"}, headers=ada)
        ).status_code == 201
        # Assignees must be on the team.
        stranger = await client.post(
            "/api/v1/issues", json={**NEW_ISSUE, "assignees": ["eve"]}, headers=bob
        )
        assert stranger.status_code == 422
        issue = (
            await client.post(
                "/api/v1/issues", json={**NEW_ISSUE, "assignees": ["cy"]}, headers=bob
            )
        ).json()
        url = f"/api/v1/issues/{issue['id']}"
        # Reporters and leads change issues, labels included; others may not.
        assert (
            await client.post(f"{url}/labels", json={"labels": ["ui"]}, headers=cy)
        ).status_code == 403
        assert (
            await client.post(f"{url}/labels", json={"labels": ["ui"]}, headers=bob)
        ).status_code == 200
        # Authors edit their comments; leads moderate.
        note = (await client.post(f"{url}/comments", json={"body": "Hmm."}, headers=cy)).json()
        note_url = f"{url}/comments/{note['id']}"
        assert (await client.patch(note_url, json={"body": "Edit"}, headers=bob)).status_code == 403
        assert (await client.patch(note_url, json={"body": "Edit"}, headers=cy)).status_code == 200
        closed = await client.patch(url, json={"status": "closed"}, headers=bob)
        assert closed.json()["closed_by"] == "bob"
        # No new comments on closed issues, except from leads.
        late = await client.post(f"{url}/comments", json={"body": "Late"}, headers=cy)
        assert late.status_code == 403
        assert (
            await client.post(f"{url}/comments", json={"body": "Ok"}, headers=ada)
        ).status_code == 201
        assert (await client.delete(note_url, headers=ada)).status_code == 204
