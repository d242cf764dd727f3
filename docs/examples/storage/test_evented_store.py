from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from evented_store import EventedIssueStore

from fastapi_issues import InMemoryIssueStore
from fastapi_issues.storage.clock import Clock
from fastapi_issues.testing import IssueStoreContract, tracker_state_machine


async def ignore(event: str, issue_id: str) -> None:
    pass


class TestEventedIssueStore(IssueStoreContract):
    @pytest.fixture
    def store(self) -> EventedIssueStore:
        return EventedIssueStore(InMemoryIssueStore(), ignore)


@asynccontextmanager
async def open_store(clock: Clock) -> AsyncIterator[EventedIssueStore]:
    yield EventedIssueStore(InMemoryIssueStore(clock=clock), ignore)


# Random histories of creates, updates and deletes, checked against the
# reference model after every step.
TestEventedIssueStoreModel = tracker_state_machine(
    open_store, collaboration=False
).TestCase
