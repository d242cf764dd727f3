import pytest
from evented_store import EventedIssueStore

from fastapi_issues import InMemoryIssueStore
from fastapi_issues.testing import IssueStoreContract


async def ignore(event: str, issue_id: str) -> None:
    pass


class TestEventedIssueStore(IssueStoreContract):
    @pytest.fixture
    def store(self) -> EventedIssueStore:
        return EventedIssueStore(InMemoryIssueStore(), ignore)
