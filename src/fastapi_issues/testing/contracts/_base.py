"""What the contract suites share: how their tests run, the `store` fixture each suite's
user overrides, and the small builders the tests use."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import pytest

from fastapi_issues.schemas import IssueCreate, IssueOut, IssuePriority

__all__ = ["StoreContract", "draft", "ids_of"]


@pytest.mark.anyio
class StoreContract:
    """A contract suite's set-up: async tests on asyncio, against the store the `store`
    fixture yields, which a subclass overrides with a fresh, empty store."""

    @pytest.fixture
    def anyio_backend(self) -> str:
        return "asyncio"

    @pytest.fixture
    def store(self) -> Any:
        raise NotImplementedError("override the `store` fixture with a fresh, empty store")


def draft(
    title: str = "An issue",
    priority: str = "medium",
    text: str = "Something broke",
    assignees: Sequence[str] = (),
    due_date: date | None = None,
) -> IssueCreate:
    """The create request of an issue, with defaults for whatever a test does not care about."""
    return IssueCreate(
        title=title,
        description=text,
        priority=IssuePriority(priority),
        assignees=list(assignees),
        due_date=due_date,
    )


def ids_of(items: Sequence[IssueOut]) -> list[str]:
    """The ids of `items`, in order."""
    return [issue.id for issue in items]
