"""Every store that ships with the package passes the same contract suite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fastapi_issues.storage import InMemoryIssueStore, JSONFileIssueStore
from fastapi_issues.testing import (
    EventStoreContract,
    HookStoreContract,
    ManualClock,
    TrackerStoreContract,
)


class TestInMemoryIssueStore(TrackerStoreContract):
    @pytest.fixture
    def store(self) -> InMemoryIssueStore:
        return InMemoryIssueStore()


class TestJSONFileIssueStore(TrackerStoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[JSONFileIssueStore]:
        store = JSONFileIssueStore(tmp_path / "issues.json")
        yield store
        store.close()


class TestJSONFileIssueStoreReopened(TrackerStoreContract):
    """Each write goes through a second store on the same files, as another process would."""

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
            create_label = writer.create_label
            update_label = writer.update_label
            delete_label = writer.delete_label
            set_issue_labels = writer.set_issue_labels
            add_issue_labels = writer.add_issue_labels
            remove_issue_labels = writer.remove_issue_labels
            get_label = reader.get_label
            list_labels = reader.list_labels
            create_comment = writer.create_comment
            update_comment = writer.update_comment
            delete_comment = writer.delete_comment
            import_issues = writer.import_issues
            get_comment = reader.get_comment
            list_comments = reader.list_comments

        yield SplitStore()  # type: ignore[misc]
        writer.close()
        reader.close()


class TestInMemoryEventLog(EventStoreContract):
    @pytest.fixture
    def store(self) -> InMemoryIssueStore:
        return InMemoryIssueStore()


class TestJSONFileEventLog(EventStoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[JSONFileIssueStore]:
        store = JSONFileIssueStore(tmp_path / "issues.json")
        yield store
        store.close()


class TestInMemoryHooks(HookStoreContract):
    @pytest.fixture
    def store(self, clock: ManualClock) -> InMemoryIssueStore:
        return InMemoryIssueStore(clock=clock)


class TestJSONFileHooks(HookStoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path, clock: ManualClock) -> Iterator[JSONFileIssueStore]:
        store = JSONFileIssueStore(tmp_path / "issues.json", clock=clock)
        yield store
        store.close()


class TestJSONFileHooksReopened(HookStoreContract):
    """Hooks written through one store and read through a second on the same files, as
    another process would; the lease asked of either (each its own lock on the file)."""

    @pytest.fixture
    def store(self, tmp_path: Path, clock: ManualClock) -> Iterator[object]:
        path = tmp_path / "issues.json"
        writer = JSONFileIssueStore(path, clock=clock)
        reader = JSONFileIssueStore(path, clock=clock)
        written, read = writer.hooks, reader.hooks

        class SplitHooks:
            create_hook = written.create_hook
            update_hook = written.update_hook
            delete_hook = written.delete_hook
            queue_ping = written.queue_ping
            redeliver = written.redeliver
            enqueue_deliveries = written.enqueue_deliveries
            record_attempt = written.record_attempt
            hold_delivery_lease = written.hold_delivery_lease
            release_delivery_lease = written.release_delivery_lease
            get_hook = read.get_hook
            list_hooks = read.list_hooks
            list_deliveries = read.list_deliveries
            get_delivery = read.get_delivery
            due_deliveries = read.due_deliveries

        class SplitStore:
            hooks = SplitHooks()
            create = writer.create
            update = writer.update
            last_event_id = reader.last_event_id
            list_events = reader.list_events

        yield SplitStore()
        writer.close()
        reader.close()
