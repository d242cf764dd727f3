"""The storage protocols: `IssueStore`, and `LabelStore` and `CommentStore` built on it.

Stores know nothing about HTTP. Every store that ships with the package implements all three
(`TrackerStore`), the importer and exporter protocols `migrate` uses, and `StoreLifecycle`
(opening and closing).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Protocol, runtime_checkable

from fastapi_issues.schemas import (
    CommentCreate,
    CommentOut,
    CommentUpdate,
    DeliveryOut,
    EventOut,
    HookCreate,
    HookOut,
    HookUpdate,
    IssueCreate,
    IssueOut,
    IssueUpdate,
    LabelCreate,
    LabelOut,
    LabelUpdate,
)
from fastapi_issues.storage.deliveries import AttemptResult, DueDelivery
from fastapi_issues.storage.query import (
    CommentPage,
    DeliveryPage,
    EventPage,
    EventQuery,
    HookPage,
    IssuePage,
    IssueQuery,
    LabelPage,
)

__all__ = [
    "CommentStore",
    "EventStore",
    "HookStore",
    "IssueExporter",
    "IssueImporter",
    "IssueStore",
    "LabelStore",
    "StoreLifecycle",
    "TrackerExporter",
    "TrackerImporter",
    "TrackerStore",
]


@runtime_checkable
class StoreLifecycle(Protocol):
    """Opening and closing a store: what it does at start-up and at shutdown.

    `prepare_store` and `close_store` (and so the example app, the CLI and `migrate`) call
    these on any store that has both. Every store that ships with the package implements it,
    user stores included. A store of your own need not: one with neither method is used
    as it is, as 0.1 used every store; subclass this protocol to get these do-nothing
    defaults and override the one you need.
    """

    async def open(self) -> None:
        """Get ready to serve: SQL stores create their tables and check the schema version,
        failing now rather than on the first request when the database cannot be reached.

        The default does nothing.
        """
        return None

    async def aclose(self) -> None:
        """Release what the store holds (connections, lock files). The default does nothing."""
        return None


@runtime_checkable
class IssueStore(Protocol):
    """Where issues live. Every method is async; stores know nothing about HTTP.

    Implement these five methods, run `fastapi_issues.testing` against your class, and the
    router works on your store. To be opened and closed with the app, implement
    `StoreLifecycle` too.
    """

    async def create(self, data: IssueCreate, *, reporter: str | None = None) -> IssueOut:
        """Store a new `open` issue at version 1 and return it."""
        ...

    async def get(self, issue_id: str) -> IssueOut:
        """Return one issue; raise `IssueNotFound` when there is none."""
        ...

    async def list(self, query: IssueQuery) -> IssuePage:
        """Return the page of issues that `query` selects, and the total that match."""
        ...

    async def update(
        self,
        issue_id: str,
        changes: IssueUpdate,
        *,
        expected_version: int | None = None,
        actor: str | None = None,
    ) -> IssueOut:
        """Apply the fields set in `changes` and return the result.

        A change that alters nothing returns the issue as it is, version unchanged.
        With `expected_version`, raise `VersionConflict` unless the stored version matches;
        the check and the write are one atomic step.

        Closing (status becoming `closed`) sets `closed_at`, `closed_by` (the `actor`) and
        `state_reason` (`completed` unless given); any other status clears all three. A
        `state_reason` for an issue that is not closed and not being closed raises
        `InvalidIssueChange`. The rules are in `fastapi_issues.storage.rules.closing_changes`.
        """
        ...

    async def delete(self, issue_id: str, *, expected_version: int | None = None) -> None:
        """Remove an issue; raise `IssueNotFound` or `VersionConflict` as `update` does."""
        ...


@runtime_checkable
class IssueImporter(Protocol):
    """A store that takes issues as they are, for copying them from another store.

    Separate from `IssueStore`: a store need not offer it to serve the API.
    """

    async def import_issues(self, issues: Sequence[IssueOut]) -> int:
        """Add `issues` in their order, after those already stored, keeping their ids, times,
        reporter and version. Ids already present are skipped, never overwritten.

        Returns how many were added.
        """
        ...


@runtime_checkable
class IssueExporter(Protocol):
    """A store that can hand out every issue it holds, for copying them to another store."""

    def export_issues(self) -> AsyncIterator[IssueOut]:
        """Every issue, in creation order."""
        ...


@runtime_checkable
class LabelStore(IssueStore, Protocol):
    """Labels, and which issues carry them.

    Names are unique ignoring case and keep the case they were given. Issue label changes are
    atomic in the store (no lost update under concurrent edits), bump the issue's version and
    `updated_at` when they change anything, and honour `expected_version` as `update` does.
    Renaming or deleting a label changes the issues that carry it without bumping their
    versions: the label changed, not the issues.
    """

    async def create_label(self, data: LabelCreate) -> LabelOut:
        """Store a new label; raise `DuplicateLabel` if the name is taken."""
        ...

    async def get_label(self, name: str) -> LabelOut:
        """The label with this name, ignoring case; raise `LabelNotFound` when none."""
        ...

    async def list_labels(self, *, offset: int = 0, limit: int = 100) -> LabelPage:
        """A page of labels ordered by name, ignoring case."""
        ...

    async def update_label(self, name: str, changes: LabelUpdate) -> LabelOut:
        """Change a label; raise `LabelNotFound`, or `DuplicateLabel` for a taken new name."""
        ...

    async def delete_label(self, name: str) -> None:
        """Delete a label and take it off every issue; raise `LabelNotFound` when none."""
        ...

    async def set_issue_labels(
        self, issue_id: str, names: Sequence[str], *, expected_version: int | None = None
    ) -> IssueOut:
        """Make `names` the issue's labels.

        Raise `IssueNotFound`, `LabelNotFound` (naming every unknown name), `TooManyLabels`
        or `VersionConflict`; nothing changes when any is raised.
        """
        ...

    async def add_issue_labels(
        self, issue_id: str, names: Sequence[str], *, expected_version: int | None = None
    ) -> IssueOut:
        """Add labels to the issue's; the same errors as `set_issue_labels`."""
        ...

    async def remove_issue_labels(
        self, issue_id: str, names: Sequence[str], *, expected_version: int | None = None
    ) -> IssueOut:
        """Take labels off the issue; names it does not carry are ignored, names no label
        has raise `LabelNotFound`."""
        ...


@runtime_checkable
class CommentStore(IssueStore, Protocol):
    """Comments on issues, oldest first. Deleting an issue deletes its comments, and every
    issue the store returns has its `comment_count`."""

    async def list_comments(
        self,
        issue_id: str,
        *,
        offset: int = 0,
        limit: int = 20,
        since: datetime | None = None,
    ) -> CommentPage:
        """A page of the issue's comments, optionally only those updated at or after
        `since`; raise `IssueNotFound` when there is no such issue."""
        ...

    async def create_comment(
        self, issue_id: str, data: CommentCreate, *, author: str | None = None
    ) -> CommentOut:
        """Add a comment at version 1; raise `IssueNotFound` when there is no such issue."""
        ...

    async def get_comment(self, issue_id: str, comment_id: str) -> CommentOut:
        """One comment of the issue; raise `IssueNotFound` or `CommentNotFound`."""
        ...

    async def update_comment(
        self,
        issue_id: str,
        comment_id: str,
        changes: CommentUpdate,
        *,
        expected_version: int | None = None,
    ) -> CommentOut:
        """Change a comment's body; raise `IssueNotFound`, `CommentNotFound` or
        `CommentVersionConflict`. An edit that changes nothing keeps the version."""
        ...

    async def delete_comment(
        self, issue_id: str, comment_id: str, *, expected_version: int | None = None
    ) -> None:
        """Delete a comment; the same errors as `update_comment`."""
        ...


@runtime_checkable
class TrackerStore(LabelStore, CommentStore, Protocol):
    """A store with issues, labels and comments: what every shipped store is."""


@runtime_checkable
class EventStore(Protocol):
    """The event log: every change the store makes, recorded in the same atomic write.

    Separate and optional, as import and export are; every shipped store offers it. Its
    writes take the changer as `actor=` (the issue and comment methods of a store with an
    event log all accept it; `create` and `create_comment` use `reporter` and `author`),
    and each records the events `fastapi_issues.storage.rules.issue_events` and
    `comment_event` derive from the state before and after, numbered in the order they
    become visible: a reader that has seen id X and asks for what came after never misses
    an event that commits later. Deleting a label records `issue.unlabeled` on every issue
    that carried it, in the issues' creation order; renaming one records nothing (the
    issues did not change). Copying issues in with `import_issues` records nothing.
    """

    async def list_events(self, query: EventQuery) -> Sequence[EventOut]:
        """The events after `query.after`, ascending by id, at most `query.limit`."""
        ...

    async def issue_events(self, issue_id: str, *, offset: int = 0, limit: int = 20) -> EventPage:
        """A page of one issue's timeline, oldest first; raise `IssueNotFound` when the
        issue does not exist (also once deleted)."""
        ...

    async def last_event_id(self) -> int:
        """The highest event id given, 0 before the first event: where a live reader
        starts. Pruning keeps it (ids are never reused), also once no event is left."""
        ...

    async def prune_events(self, *, before: datetime) -> int:
        """Delete the events made before `before`; return how many. Ids are never reused."""
        ...

    async def wait_for_events(self, after: int) -> None:
        """Return soon after an event with an id above `after` may have become visible,
        written by this process or by any other on the same data.

        Live readers call it in a loop, bounded by `asyncio.timeout`, then read
        `list_events`. It may return with nothing new (a wake that costs one read) but must
        not sleep through an event for longer than the store's wake delay: at once for a
        write in this process, about 50 ms for one in another.
        """
        ...


@runtime_checkable
class HookStore(Protocol):
    """Webhooks and their deliveries, kept beside the event log they deliver from.

    Optional, and a part of a store rather than the store itself: every shipped store has
    one as its `hooks` attribute, over the same data and event log
    (`make_webhook_router(store.hooks, ...)`). The
    admin side keeps hooks; the worker side (`fastapi_issues.webhooks.DeliveryWorker`) turns
    new events into deliveries, asks what is due, and records each attempt. Every write is
    atomic and durable as the store's issue writes are, so that a delivery acknowledged as
    queued survives `kill -9`, and one whose attempt was not recorded is attempted again,
    with the same id.

    Order: per hook, deliveries queued from events are attempted in event-id order; while the
    oldest pending one waits for a retry, the hook's later ones wait behind it (other hooks'
    never do). Pings and redeliveries of finished deliveries are due at once, outside that
    queue.

    History: per hook, at most `deliveries.FINISHED_KEPT` finished (delivered or failed)
    deliveries are kept (a store may take another number, as `deliveries_kept=`). When an
    attempt finishes a delivery and its hook then has more, the oldest finished ones, by
    creation order, are dropped in the same atomic write. Pending deliveries are never
    dropped (a redelivered one is pending again); pings count like any delivery.
    """

    async def create_hook(self, data: HookCreate) -> HookOut:
        """Add a hook; it delivers the events made after this call."""
        ...

    async def get_hook(self, hook_id: str) -> HookOut:
        """The hook; raise `HookNotFound` if there is none."""
        ...

    async def list_hooks(self, *, offset: int = 0, limit: int = 100) -> HookPage:
        """A page of hooks, oldest first."""
        ...

    async def update_hook(self, hook_id: str, changes: HookUpdate) -> HookOut:
        """Change what `changes` sends. Making an inactive hook active clears
        `failing_since` and starts it at the events made after this call (what happened
        while it was inactive is not delivered). Raise `HookNotFound`."""
        ...

    async def delete_hook(self, hook_id: str) -> None:
        """Delete the hook and its deliveries; raise `HookNotFound`."""
        ...

    async def list_deliveries(
        self, hook_id: str, *, offset: int = 0, limit: int = 20
    ) -> DeliveryPage:
        """A page of the hook's deliveries, newest first; raise `HookNotFound`."""
        ...

    async def get_delivery(self, hook_id: str, delivery_id: str) -> DeliveryOut:
        """One delivery of the hook; raise `HookNotFound` or `DeliveryNotFound`."""
        ...

    async def queue_ping(self, hook_id: str) -> DeliveryOut:
        """Queue a `ping` delivery (body: `deliveries.ping_body`), due at once, also for
        an inactive hook; raise `HookNotFound`."""
        ...

    async def redeliver(self, hook_id: str, delivery_id: str) -> DeliveryOut:
        """Make the delivery pending and due at once, keeping its id, body and attempts;
        raise `HookNotFound` or `DeliveryNotFound`."""
        ...

    async def enqueue_deliveries(self, *, limit: int = 1000) -> int:
        """For each active hook, turn the events after its cursor whose type it wants into
        pending deliveries due at once (body: `deliveries.event_body`), and move its cursor
        past every event read, in one atomic write per hook. A hook's queue is topped up to
        `limit`: with `q` pending queued deliveries, at most `limit - q` events are read
        (none when `q >= limit`), so the deliveries made never run further ahead of the
        receivers than that while the rest wait in the log. Return how many deliveries
        were made."""
        ...

    async def due_deliveries(self, *, limit: int = 100) -> Sequence[DueDelivery]:
        """The deliveries of active hooks to attempt now (pings: whatever the hook's
        state), by when they fell due: per hook, the oldest pending queued delivery if its
        time has come, and any pending ping or redelivery."""
        ...

    async def record_attempt(self, delivery_id: str, result: AttemptResult) -> HookOut:
        """Record an attempt: `delivered` when ok, else `pending` until `result.retry_at`
        or, without one, `failed`. An ok attempt clears the hook's `failing_since`, a
        failed one sets it if unset. A delivery it finishes may drop the hook's oldest
        finished ones (see History above). Return the hook as it is after; raise
        `DeliveryNotFound` if the delivery (or its hook) was deleted or dropped meanwhile."""
        ...

    async def hold_delivery_lease(self, owner: str) -> bool:
        """Take the delivery lease for `owner`, or keep it: True while `owner` holds it.
        One owner at a time across every process on the same data. The holder calls again
        at least every 10 s; one that stops (or dies) loses the lease within 30 s."""
        ...

    async def release_delivery_lease(self, owner: str) -> None:
        """Give the lease up, if `owner` holds it, so that another may take it at once."""
        ...


@runtime_checkable
class TrackerImporter(Protocol):
    """A store that takes labels and comments as they are, for copying them from another
    store. Copy labels first, then issues (`IssueImporter`), then comments."""

    async def import_labels(self, labels: Sequence[LabelOut]) -> int:
        """Add labels keeping their ids, skipping any whose id or name (ignoring case) is
        taken. Returns how many were added."""
        ...

    async def import_comments(self, comments: Sequence[CommentOut]) -> int:
        """Add comments in their order, keeping ids, times, author and version, skipping ids
        already here and comments of issues that are not. Returns how many were added."""
        ...


@runtime_checkable
class TrackerExporter(Protocol):
    """A store that can hand out every label and comment it holds."""

    def export_labels(self) -> AsyncIterator[LabelOut]:
        """Every label."""
        ...

    def export_comments(self) -> AsyncIterator[CommentOut]:
        """Every comment, each issue's in creation order."""
        ...
