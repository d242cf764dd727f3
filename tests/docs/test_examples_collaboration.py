"""The samples of the Collaboration page run here, the way the page tells readers to use them.

Samples: "collaboration/app.py", "collaboration/team.py".
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.docs.conftest import EXAMPLES, LoadExample
from tests.servers import running

pytestmark = pytest.mark.anyio

NEW_ISSUE = {"title": "Login button does nothing", "description": "Clicking it has no effect."}


def test_the_host_app_is_under_twenty_lines() -> None:
    assert len((EXAMPLES / "collaboration" / "app.py").read_text().splitlines()) < 20


async def test_host_app_serves_issues_labels_and_comments(
    load_example: LoadExample, tmp_path: Path
) -> None:
    module = load_example("collaboration/app.py")
    async with running(module.app) as client:
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
    assert json.loads((data / "labels.json").read_text())["records"][0]["name"] == "bug"


async def test_team_app_shares_auth_and_policies(
    load_example: LoadExample,
) -> None:
    module = load_example("collaboration/team.py")
    ada, bob, cy = ({"X-User": name} for name in ("ada", "bob", "cy"))
    async with running(module.app) as client:
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
