"""Every store that ships with the package passes the same contract suite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fastapi_issues.storage import InMemoryIssueStore, JSONFileIssueStore
from fastapi_issues.testing import IssueStoreContract


class TestInMemoryIssueStore(IssueStoreContract):
    @pytest.fixture
    def store(self) -> InMemoryIssueStore:
        return InMemoryIssueStore()


class TestJSONFileIssueStore(IssueStoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[JSONFileIssueStore]:
        store = JSONFileIssueStore(tmp_path / "issues.json")
        yield store
        store.close()


class TestJSONFileIssueStoreReopened(IssueStoreContract):
    """Each write goes through a second store on the same file, as another process would."""

    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[JSONFileIssueStore]:
        path = tmp_path / "issues.json"
        writer = JSONFileIssueStore(path)
        reader = JSONFileIssueStore(path)

        class SplitStore:
            create = writer.create
            update = writer.update
            delete = writer.delete
            get = reader.get
            list = reader.list

        yield SplitStore()  # type: ignore[misc]
        writer.close()
        reader.close()
