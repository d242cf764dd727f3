from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from fastapi_issues import IssueOut, IssuePriority, IssueStatus
from fastapi_issues.routers.policies import AdminsOnly, ReporterOrAdmin

NOW = datetime.now(UTC)


def issue(reporter: str | None) -> IssueOut:
    return IssueOut(
        id="1",
        title="Abc",
        description="Hello",
        priority=IssuePriority.low,
        status=IssueStatus.open,
        created_at=NOW,
        updated_at=NOW,
        reporter=reporter,
    )


@pytest.mark.parametrize(
    ("user", "action", "reporter", "allowed"),
    [
        (SimpleNamespace(username="ada"), "update", "ada", True),
        (SimpleNamespace(username="bob"), "update", "ada", False),
        (SimpleNamespace(username="bob"), "delete", "ada", False),
        (SimpleNamespace(username="bob"), "read", "ada", True),
        (SimpleNamespace(username="root"), "delete", "ada", True),
        (SimpleNamespace(username="boss", is_admin=True), "update", "ada", True),
        (SimpleNamespace(username="ada"), "update", None, False),
        ({"username": "ada"}, "delete", "ada", True),
        ("ada", "update", "ada", True),
        (None, "update", "ada", False),
    ],
)
def test_reporter_or_admin(user: object, action: str, reporter: str | None, allowed: bool) -> None:
    policy = ReporterOrAdmin(admins={"root"})
    assert policy(user, action, issue(reporter)) is allowed  # type: ignore[arg-type]


def test_create_and_list_are_open_to_everyone() -> None:
    policy = ReporterOrAdmin()
    assert policy(SimpleNamespace(username="x"), "create", None)
    assert policy(SimpleNamespace(username="x"), "read", None)


@pytest.mark.parametrize("action", ["create", "update", "delete"])
@pytest.mark.parametrize(
    ("user", "allowed"),
    [
        ("root", True),
        ({"username": "root"}, True),
        (SimpleNamespace(username="root"), True),
        (SimpleNamespace(username="ada", is_admin=True), True),
        ("ada", False),
        (SimpleNamespace(username="ada"), False),
        (None, False),
    ],
)
def test_admins_only_changes_labels(user: object, action: str, allowed: bool) -> None:
    assert AdminsOnly(["root"])(user, action) is allowed  # type: ignore[arg-type]
