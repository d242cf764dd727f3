from collections.abc import Awaitable, Callable

from fastapi_issues import (
    IssueCreate,
    IssueOut,
    IssuePage,
    IssueQuery,
    IssueStore,
    IssueUpdate,
)

Listener = Callable[[str, str], Awaitable[None]]
"""Called with "created", "updated" or "deleted", and the issue's id."""


class EventedIssueStore:
    """Wraps any store; tells `listener` of every write it acknowledged."""

    def __init__(self, inner: IssueStore, listener: Listener) -> None:
        self.inner = inner
        self.listener = listener

    async def create(
        self, data: IssueCreate, *, reporter: str | None = None
    ) -> IssueOut:
        issue = await self.inner.create(data, reporter=reporter)
        await self.listener("created", issue.id)
        return issue

    async def get(self, issue_id: str) -> IssueOut:
        return await self.inner.get(issue_id)

    async def list(self, query: IssueQuery) -> IssuePage:
        return await self.inner.list(query)

    async def update(
        self,
        issue_id: str,
        changes: IssueUpdate,
        *,
        expected_version: int | None = None,
        actor: str | None = None,
    ) -> IssueOut:
        issue = await self.inner.update(
            issue_id, changes, expected_version=expected_version, actor=actor
        )
        await self.listener("updated", issue_id)
        return issue

    async def delete(
        self, issue_id: str, *, expected_version: int | None = None
    ) -> None:
        await self.inner.delete(issue_id, expected_version=expected_version)
        await self.listener("deleted", issue_id)
