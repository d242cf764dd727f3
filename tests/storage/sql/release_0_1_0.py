"""Databases made by fastapi-issues 0.1.0's own code (`tests/releases.py`).

A subprocess with only that code on its path writes issues, labels, assignees, comments, a
closed issue and users through 0.1.0's store API, and prints everything it then reads back,
for the test to compare with what this release serves after the upgrade.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.releases import extract_0_1_0

RELEASE_COMMIT = "d6b2f81"
"""Version 0.1.0."""

_WRITE = r"""
import asyncio, json, sys
from fastapi_issues.storage.sql import SQLIssueStore
from fastapi_issues.auth.sql import SQLUserStore
from fastapi_issues.auth.users import UserInDB
from fastapi_issues.schemas import CommentCreate, IssueCreate, IssueUpdate, LabelCreate

url, schema = sys.argv[1], sys.argv[2] or None


async def main():
    store = SQLIssueStore(url, schema=schema)
    users = SQLUserStore(url, schema=schema)
    await store.create_label(LabelCreate(name="bug", color="d73a4a", description="Broken"))
    await store.create_label(LabelCreate(name="UI", color="00ff00"))
    first = await store.create(
        IssueCreate(title="Login fails", description="500 on submit", priority="high",
                    assignees=["ada", "grace"]),
        reporter="ada",
    )
    await store.set_issue_labels(first.id, ["bug", "UI"])
    await store.create_comment(first.id, CommentCreate(body="Reproduced"), author="grace")
    await store.create_comment(first.id, CommentCreate(body="Fixed?"), author="ada")
    closed = await store.create(IssueCreate(title="Old", description="Done already"),
                                reporter="grace")
    await store.update(closed.id, IssueUpdate(status="closed", state_reason="completed"),
                       actor="grace")
    await store.create(IssueCreate(title="Anonymous", description="Nobody said who",
                                   priority="low"))
    await users.create(UserInDB(username="ada", email="ada@example.com", full_name="Ada L",
                                hashed_password="hash-of-ada"))
    await users.create(UserInDB(username="grace", disabled=True, hashed_password="hash-of-g"))
    print(json.dumps(await read(store, users)))
    await store.aclose()
    await users.aclose()


async def read(store, users):
    return {
        "issues": [i.model_dump(mode="json") async for i in store.export_issues()],
        "labels": [l.model_dump(mode="json") async for l in store.export_labels()],
        "comments": [c.model_dump(mode="json") async for c in store.export_comments()],
        "users": [
            {**u.model_dump(mode="json"), "hashed_password": u.hashed_password.get_secret_value()}
            for u in await users.list()
        ],
    }


asyncio.run(main())
"""


def extract_release(into: Path) -> Path:
    """0.1.0's `src` folder, extracted under `into`."""
    return extract_0_1_0(into)


def write_with_release(release_src: Path, url: str, schema: str | None = None) -> dict[str, Any]:
    """Fill a database through 0.1.0's stores; what they read back afterwards."""
    env = {**os.environ, "PYTHONPATH": str(release_src)}
    done = subprocess.run(
        [sys.executable, "-c", _WRITE, url, schema or ""],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    data: dict[str, Any] = json.loads(done.stdout)
    return data


async def read_with_this_release(store: Any, users: Any) -> dict[str, Any]:
    """The same reading as 0.1.0's, through this release's stores."""
    return {
        "issues": [i.model_dump(mode="json") async for i in store.export_issues()],
        "labels": [label.model_dump(mode="json") async for label in store.export_labels()],
        "comments": [c.model_dump(mode="json") async for c in store.export_comments()],
        # The fields 0.1.0 had (later ones read as their defaults, tested in tests/auth/).
        "users": [
            {
                **u.model_dump(mode="json", exclude={"is_admin", "token_generation"}),
                "hashed_password": u.hashed_password.get_secret_value(),
            }
            for u in await users.list()
        ],
    }
