"""Data written by 0.1.0's example app through its HTTP API is served unchanged by this
release's example app: on SQLite after `fastapi-issues db upgrade` and after the store's
automatic upgrade, on PostgreSQL after `db upgrade`, and from a 0.1.0 JSON data folder.

Each app runs in a subprocess with only its own release's code on the path (0.1.0's from
`tests/releases.py`), driven in process through HTTP (`TestClient`, lifespan included);
both print everything a client can read back, for the test to compare.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from fastapi_issues.cli import main
from tests.releases import extract_0_1_0, extract_0_1_0_example_app

ROOT = Path(__file__).resolve().parents[2]

PASSWORDS = {"ada": "ada's long password", "grace": "grace's long password", "linus": "linus pw 1"}

# Run as `python -c CLIENT write|read URL` with one release's code on the path.
CLIENT = r"""
import json, sys
from fastapi.testclient import TestClient
from examples.app import create_app

mode, url, passwords = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
env = {
    "ISSUES_STORAGE_URL": url,
    "FASTAPI_ISSUES_SECRET_KEY": "a test key that is long enough for HS256 signing",
    "FASTAPI_ISSUES_REGISTRATION": "on",
    "FASTAPI_ISSUES_THROTTLE": "off",
    "FASTAPI_ISSUES_ADMINS": "linus",
}
ISSUES, LABELS = "/api/v1/issues", "/api/v1/labels"


def ok(response, *statuses):
    assert response.status_code in (statuses or (200,)), (response.status_code, response.text)
    return response


def login(client, name):
    token = ok(client.post("/token", data={"username": name, "password": passwords[name]}))
    return {"Authorization": "Bearer " + token.json()["access_token"]}


def write(client):
    for name in passwords:
        ok(client.post("/register", json={"username": name, "password": passwords[name],
                                          "email": name + "@example.com",
                                          "full_name": name.title()}), 201)
    ada, grace, linus = (login(client, name) for name in ("ada", "grace", "linus"))
    ok(client.post(LABELS, json={"name": "bug", "color": "d73a4a", "description": "Broken"},
                   headers=linus), 201)
    ok(client.post(LABELS, json={"name": "UI", "color": "00ff00"}, headers=linus), 201)
    first = ok(client.post(ISSUES, json={"title": "Login fails", "description": "500 on submit",
                                         "priority": "high", "assignees": ["ada", "grace"]},
                           headers=ada), 201).json()
    ok(client.put(f"{ISSUES}/{first['id']}/labels", json={"labels": ["bug", "UI"]},
                  headers=ada))
    for who, body in ((grace, "Reproduced"), (ada, "Fixed?"), (grace, "Not yet")):
        ok(client.post(f"{ISSUES}/{first['id']}/comments", json={"body": body}, headers=who),
           201)
    closed = ok(client.post(ISSUES, json={"title": "Old", "description": "Done already"},
                            headers=grace), 201).json()
    ok(client.patch(f"{ISSUES}/{closed['id']}",
                    json={"status": "closed", "state_reason": "completed"}, headers=grace))
    for n in range(3):
        made = ok(client.post(ISSUES, json={"title": f"Issue {n}", "description": "More of them",
                                            "priority": "low", "assignees": ["linus"]},
                              headers=linus), 201).json()
        ok(client.post(f"{ISSUES}/{made['id']}/labels", json={"labels": ["ui"]},
                       headers=linus))
    ok(client.patch(f"{ISSUES}/{made['id']}",
                    json={"status": "closed", "state_reason": "not_planned"}, headers=linus))


def read(client):
    users = {name: ok(client.get("/users/me", headers=login(client, name))).json()
             for name in passwords}
    reader = login(client, "ada")
    page = ok(client.get(ISSUES, params={"limit": 100}, headers=reader))
    issues = [ok(client.get(f"{ISSUES}/{i['id']}", headers=reader)).json() for i in page.json()]
    comments = {i["id"]: ok(client.get(f"{ISSUES}/{i['id']}/comments",
                                       params={"limit": 100}, headers=reader)).json()
                for i in issues}
    issue_labels = {i["id"]: ok(client.get(f"{ISSUES}/{i['id']}/labels",
                                           headers=reader)).json() for i in issues}
    labels = ok(client.get(LABELS, params={"limit": 100}, headers=reader))
    return {
        "users": users,
        "issue_list": page.json(),
        "issue_count": page.headers["x-total-count"],
        "issues": issues,
        "comments": comments,
        "issue_labels": issue_labels,
        "labels": labels.json(),
        "label_count": labels.headers["x-total-count"],
    }


with TestClient(create_app(env)) as client:
    if mode == "write":
        write(client)
    print(json.dumps(read(client)))
"""


@pytest.fixture(scope="module")
def release_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    """0.1.0's src and its example app, as a PYTHONPATH."""
    where = tmp_path_factory.mktemp("release-0.1.0")
    return os.pathsep.join([str(extract_0_1_0(where)), str(extract_0_1_0_example_app(where))])


def run_client(python_path: str, mode: str, url: str, cwd: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", CLIENT, mode, url, json.dumps(PASSWORDS)],
        env={**os.environ, "PYTHONPATH": python_path},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def with_0_1_0(release_path: str, url: str, cwd: Path) -> dict[str, Any]:
    """Write through 0.1.0's example app; what it serves afterwards."""
    return run_client(release_path, "write", url, cwd)


def with_this_release(url: str, cwd: Path) -> dict[str, Any]:
    """What this release's example app serves."""
    return run_client(os.pathsep.join([str(ROOT / "src"), str(ROOT)]), "read", url, cwd)


def as_0_1_0_served(value: Any, then: Any) -> Any:
    """`value` cut down to the fields 0.1.0 served in `then`: the fields added since have
    nothing to say about data 0.1.0 wrote (each must be empty or false)."""
    if isinstance(then, dict) and isinstance(value, dict):
        added = {key: value[key] for key in value.keys() - then.keys()}
        # Empty, or false for a flag (`is_admin`: nobody was an admin by flag in 0.1.0).
        assert all(field in (None, [], {}, False) for field in added.values()), added
        return {key: as_0_1_0_served(value.get(key), then[key]) for key in then}
    if isinstance(then, list) and isinstance(value, list) and len(then) == len(value):
        return [as_0_1_0_served(v, t) for v, t in zip(value, then, strict=True)]
    return value


def assert_served_unchanged(before: dict[str, Any], after: dict[str, Any]) -> None:
    assert len(before["issues"]) == 5
    assert int(before["issue_count"]) == 5
    assert sum(len(c) for c in before["comments"].values()) == 3
    assert int(before["label_count"]) == 2
    assert sorted(before["users"]) == ["ada", "grace", "linus"]
    assert sum(issue["status"] == "closed" for issue in before["issues"]) == 2
    assert as_0_1_0_served(after, before) == before


def upgrade(url: str) -> None:
    assert main(["db", "upgrade", "--url", url]) == 0


@pytest.mark.slow
def test_sqlite_after_db_upgrade(release_path: str, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'issues.db'}"
    before = with_0_1_0(release_path, url, tmp_path)
    upgrade(url)
    assert_served_unchanged(before, with_this_release(url, tmp_path))


@pytest.mark.slow
def test_sqlite_upgraded_by_the_store_at_start(release_path: str, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'issues.db'}"
    before = with_0_1_0(release_path, url, tmp_path)
    assert_served_unchanged(before, with_this_release(url, tmp_path))


@pytest.mark.slow
@pytest.mark.anyio
async def test_postgres_after_db_upgrade(
    release_path: str, tmp_path: Path, postgres_database: str
) -> None:
    # Off the event loop that made the database: each step runs its own.
    before = await asyncio.to_thread(with_0_1_0, release_path, postgres_database, tmp_path)
    await asyncio.to_thread(upgrade, postgres_database)
    after = await asyncio.to_thread(with_this_release, postgres_database, tmp_path)
    assert_served_unchanged(before, after)


@pytest.mark.slow
def test_a_json_data_folder(release_path: str, tmp_path: Path) -> None:
    url = str(tmp_path / "data" / "issues.json")
    before = with_0_1_0(release_path, url, tmp_path)
    assert_served_unchanged(before, with_this_release(url, tmp_path))
    assert (tmp_path / "data" / "issues.json.v1.bak").is_file()
