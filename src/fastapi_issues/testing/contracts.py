"""The contract suites: example-based tests of what every store must do (see the package's
docstring for how to use them)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
from pydantic import SecretStr

from fastapi_issues.schemas import (
    CommentCreate,
    CommentOut,
    CommentUpdate,
    IssueCreate,
    IssueOut,
    IssuePriority,
    IssueStatus,
    IssueUpdate,
    LabelCreate,
    LabelUpdate,
    StateReason,
)
from fastapi_issues.storage.errors import (
    CommentNotFound,
    CommentVersionConflict,
    DuplicateLabel,
    InvalidIssueChange,
    IssueNotFound,
    LabelNotFound,
    TooManyLabels,
    VersionConflict,
)
from fastapi_issues.storage.protocols import CommentStore, IssueImporter, IssueStore, LabelStore
from fastapi_issues.storage.query import ASSIGNEE_ANY, ASSIGNEE_NONE, IssueQuery

if TYPE_CHECKING:
    from fastapi_issues.auth.users import UserInDB, UserStore, UserUpdate

__all__ = [
    "CommentStoreContract",
    "IssueStoreContract",
    "LabelStoreContract",
    "TrackerStoreContract",
    "UserStoreContract",
]


def _new(
    title: str = "An issue",
    priority: str = "medium",
    text: str = "Something broke",
    assignees: Sequence[str] = (),
) -> IssueCreate:
    return IssueCreate(
        title=title,
        description=text,
        priority=IssuePriority(priority),
        assignees=list(assignees),
    )


def _ids(items: Sequence[IssueOut]) -> list[str]:
    return [issue.id for issue in items]


@pytest.mark.anyio
class IssueStoreContract:
    """Contract tests for an `IssueStore`. Override the `store` fixture."""

    @pytest.fixture
    def anyio_backend(self) -> str:
        return "asyncio"

    @pytest.fixture
    def store(self) -> Any:
        raise NotImplementedError("override the `store` fixture with a fresh, empty store")

    # -- create and get ------------------------------------------------------------------

    async def test_store_satisfies_the_protocol(self, store: IssueStore) -> None:
        assert isinstance(store, IssueStore)

    async def test_create_returns_an_open_issue_at_version_one(self, store: IssueStore) -> None:
        issue = await store.create(_new("Crash on save", "high"), reporter="ada")
        assert issue.title == "Crash on save"
        assert issue.priority is IssuePriority.high
        assert issue.status is IssueStatus.open
        assert issue.reporter == "ada"
        assert issue.version == 1
        assert issue.created_at == issue.updated_at
        assert issue.created_at.utcoffset() == timedelta(0)
        assert len(issue.id) == 36

    async def test_get_returns_what_create_returned(self, store: IssueStore) -> None:
        created = await store.create(_new())
        assert await store.get(created.id) == created

    async def test_get_unknown_id_raises_not_found(self, store: IssueStore) -> None:
        with pytest.raises(IssueNotFound):
            await store.get("00000000-0000-0000-0000-000000000000")

    async def test_unusual_ids_and_filters_are_simply_not_found(self, store: IssueStore) -> None:
        await store.create(_new(), reporter="ada")
        for odd in ("", "x" * 100, "a\x00b", "'; DROP TABLE issues; --", "%", "é"):
            with pytest.raises(IssueNotFound):
                await store.get(odd)
            with pytest.raises(IssueNotFound):
                await store.update(odd, IssueUpdate(title="Nope"))
            with pytest.raises(IssueNotFound):
                await store.delete(odd, expected_version=1)
            assert (await store.list(IssueQuery(reporter=odd))).total == 0
        assert (await store.list(IssueQuery(text="a\x00b"))).total == 0
        assert (await store.list(IssueQuery())).total == 1

    async def test_reporter_is_optional(self, store: IssueStore) -> None:
        issue = await store.create(_new())
        assert issue.reporter is None
        assert (await store.get(issue.id)).reporter is None

    async def test_new_issue_has_no_labels_assignees_comments_or_closing(
        self, store: IssueStore
    ) -> None:
        issue = await store.get((await store.create(_new())).id)
        assert issue.labels == []
        assert issue.assignees == []
        assert issue.comment_count == 0
        assert issue.closed_at is None
        assert issue.closed_by is None
        assert issue.state_reason is None

    # -- assignees -----------------------------------------------------------------------

    async def test_assignees_are_kept_sorted(self, store: IssueStore) -> None:
        issue = await store.create(_new(assignees=["zoe", "ada"]))
        assert issue.assignees == ["ada", "zoe"]
        assert (await store.get(issue.id)).assignees == ["ada", "zoe"]

    async def test_update_replaces_the_assignees(self, store: IssueStore) -> None:
        issue = await store.create(_new(assignees=["ada"]))
        updated = await store.update(issue.id, IssueUpdate(assignees=["bob", "cy"]))
        assert updated.assignees == ["bob", "cy"]
        assert updated.version == 2
        same = await store.update(issue.id, IssueUpdate(assignees=["cy", "bob"]))
        assert same.version == 2
        cleared = await store.update(issue.id, IssueUpdate(assignees=[]))
        assert cleared.assignees == []
        assert (await store.get(issue.id)).assignees == []

    async def test_filters_by_assignee(self, store: IssueStore) -> None:
        ada = await store.create(_new(assignees=["ada"]))
        both = await store.create(_new(assignees=["ada", "bob"]))
        nobody = await store.create(_new())
        bob = await store.create(_new(assignees=["bob"]))

        async def ids(assignee: str) -> list[str]:
            page = await store.list(IssueQuery(assignee=assignee))
            assert page.total == len(page.items)
            return _ids(page.items)

        assert await ids("ada") == [ada.id, both.id]
        assert await ids("bob") == [both.id, bob.id]
        assert await ids("eve") == []
        assert await ids(ASSIGNEE_NONE) == [nobody.id]
        assert await ids(ASSIGNEE_ANY) == [ada.id, both.id, bob.id]
        combined = await store.list(IssueQuery(assignee="bob", priority=[IssuePriority.low]))
        assert combined.total == 0

    async def test_label_filter_with_unknown_names_matches_nothing(self, store: IssueStore) -> None:
        await store.create(_new())
        page = await store.list(IssueQuery(labels=["no-such-label"]))
        assert list(page.items) == []
        assert page.total == 0

    # -- closing -------------------------------------------------------------------------

    async def test_closing_records_when_and_by_whom(self, store: IssueStore) -> None:
        issue = await store.create(_new())
        closed = await store.update(issue.id, IssueUpdate(status=IssueStatus.closed), actor="ada")
        assert closed.status is IssueStatus.closed
        assert closed.closed_by == "ada"
        assert closed.closed_at == closed.updated_at
        assert closed.closed_at is not None
        assert closed.closed_at.utcoffset() == timedelta(0)
        assert closed.state_reason is StateReason.completed
        assert await store.get(issue.id) == closed

    async def test_closing_with_a_reason(self, store: IssueStore) -> None:
        issue = await store.create(_new())
        closed = await store.update(
            issue.id,
            IssueUpdate(status=IssueStatus.closed, state_reason=StateReason.not_planned),
        )
        assert closed.state_reason is StateReason.not_planned
        assert closed.closed_by is None
        assert closed.version == 2

    async def test_reopening_clears_the_closing_fields(self, store: IssueStore) -> None:
        issue = await store.create(_new())
        await store.update(issue.id, IssueUpdate(status=IssueStatus.closed), actor="ada")
        reopened = await store.update(
            issue.id, IssueUpdate(status=IssueStatus.in_progress), actor="bob"
        )
        assert reopened.status is IssueStatus.in_progress
        assert reopened.closed_at is None
        assert reopened.closed_by is None
        assert reopened.state_reason is None
        assert await store.get(issue.id) == reopened
        await asyncio.sleep(0.01)
        again = await store.update(issue.id, IssueUpdate(status=IssueStatus.closed), actor="cy")
        assert again.closed_by == "cy"
        assert again.closed_at is not None
        assert again.closed_at > reopened.updated_at

    async def test_closing_a_closed_issue_changes_nothing(self, store: IssueStore) -> None:
        issue = await store.create(_new())
        closed = await store.update(issue.id, IssueUpdate(status=IssueStatus.closed), actor="a")
        same = await store.update(issue.id, IssueUpdate(status=IssueStatus.closed), actor="b")
        assert same == closed
        assert same.closed_by == "a"

    async def test_the_reason_of_a_closed_issue_can_change(self, store: IssueStore) -> None:
        issue = await store.create(_new())
        closed = await store.update(issue.id, IssueUpdate(status=IssueStatus.closed), actor="a")
        dup = await store.update(
            issue.id, IssueUpdate(state_reason=StateReason.duplicate), actor="b"
        )
        assert dup.state_reason is StateReason.duplicate
        assert dup.version == closed.version + 1
        assert dup.closed_by == "a"
        assert dup.closed_at == closed.closed_at
        same = await store.update(issue.id, IssueUpdate(state_reason=StateReason.duplicate))
        assert same.version == dup.version

    async def test_a_reason_for_an_open_issue_is_refused(self, store: IssueStore) -> None:
        issue = await store.create(_new("Still open"))
        with pytest.raises(InvalidIssueChange) as info:
            await store.update(
                issue.id, IssueUpdate(title="Changed", state_reason=StateReason.duplicate)
            )
        assert info.value.field == "state_reason"
        assert await store.get(issue.id) == issue

    # -- update --------------------------------------------------------------------------

    async def test_update_changes_only_the_fields_sent(self, store: IssueStore) -> None:
        issue = await store.create(_new("Original", "low"))
        updated = await store.update(issue.id, IssueUpdate(status=IssueStatus.closed))
        assert updated.status is IssueStatus.closed
        assert updated.title == "Original"
        assert updated.priority is IssuePriority.low
        assert updated.version == 2
        assert updated.updated_at >= issue.updated_at
        assert updated.created_at == issue.created_at
        assert await store.get(issue.id) == updated

    async def test_update_that_changes_nothing_keeps_the_version(self, store: IssueStore) -> None:
        issue = await store.create(_new("Same", "low"))
        same = await store.update(issue.id, IssueUpdate(title="Same", priority=IssuePriority.low))
        assert same.version == 1
        assert same == issue
        empty = await store.update(issue.id, IssueUpdate())
        assert empty.version == 1

    async def test_update_unknown_id_raises_not_found(self, store: IssueStore) -> None:
        with pytest.raises(IssueNotFound):
            await store.update("missing", IssueUpdate(title="Nope"))

    async def test_update_with_the_current_version_succeeds(self, store: IssueStore) -> None:
        issue = await store.create(_new())
        updated = await store.update(issue.id, IssueUpdate(title="Renamed"), expected_version=1)
        assert updated.version == 2

    async def test_update_with_a_stale_version_conflicts(self, store: IssueStore) -> None:
        issue = await store.create(_new("First"))
        await store.update(issue.id, IssueUpdate(title="Second"))
        with pytest.raises(VersionConflict):
            await store.update(issue.id, IssueUpdate(title="Third"), expected_version=1)
        assert (await store.get(issue.id)).title == "Second"

    async def test_concurrent_conditional_updates_let_exactly_one_win(
        self, store: IssueStore
    ) -> None:
        issue = await store.create(_new())
        results = await asyncio.gather(
            *(
                store.update(issue.id, IssueUpdate(title=f"Edit {n}"), expected_version=1)
                for n in range(10)
            ),
            return_exceptions=True,
        )
        winners = [r for r in results if isinstance(r, IssueOut)]
        losers = [r for r in results if isinstance(r, VersionConflict)]
        assert len(winners) == 1
        assert len(losers) == 9
        stored = await store.get(issue.id)
        assert stored.version == 2
        assert stored.title == winners[0].title

    async def test_concurrent_updates_of_one_issue_are_all_applied(self, store: IssueStore) -> None:
        issue = await store.create(_new())
        await asyncio.gather(
            *(store.update(issue.id, IssueUpdate(title=f"Edit {n}")) for n in range(10))
        )
        # Last write wins, but every write counts: none was based on a stale copy.
        assert (await store.get(issue.id)).version == 11

    async def test_update_of_a_deleted_issue_raises_not_found(self, store: IssueStore) -> None:
        issue = await store.create(_new())
        await store.delete(issue.id)
        with pytest.raises(IssueNotFound):
            await store.update(issue.id, IssueUpdate(title="Too late"))
        with pytest.raises(IssueNotFound):
            await store.update(issue.id, IssueUpdate(title="Too late"), expected_version=1)

    # -- delete --------------------------------------------------------------------------

    async def test_delete_removes_the_issue(self, store: IssueStore) -> None:
        issue = await store.create(_new())
        await store.delete(issue.id)
        with pytest.raises(IssueNotFound):
            await store.get(issue.id)
        assert (await store.list(IssueQuery())).total == 0

    async def test_delete_unknown_id_raises_not_found(self, store: IssueStore) -> None:
        with pytest.raises(IssueNotFound):
            await store.delete("missing")

    async def test_delete_with_a_stale_version_conflicts(self, store: IssueStore) -> None:
        issue = await store.create(_new())
        await store.update(issue.id, IssueUpdate(title="Changed"))
        with pytest.raises(VersionConflict):
            await store.delete(issue.id, expected_version=1)
        assert (await store.get(issue.id)).title == "Changed"
        await store.delete(issue.id, expected_version=2)
        with pytest.raises(IssueNotFound):
            await store.get(issue.id)

    async def test_concurrent_conditional_deletes_let_exactly_one_win(
        self, store: IssueStore
    ) -> None:
        issue = await store.create(_new())
        results = await asyncio.gather(
            *(store.delete(issue.id, expected_version=1) for _ in range(5)),
            return_exceptions=True,
        )
        assert results.count(None) == 1
        assert all(isinstance(r, IssueNotFound) for r in results if r is not None)

    # -- list ----------------------------------------------------------------------------

    async def test_list_of_an_empty_store(self, store: IssueStore) -> None:
        page = await store.list(IssueQuery())
        assert list(page.items) == []
        assert page.total == 0

    async def test_list_pages_in_creation_order(self, store: IssueStore) -> None:
        created = [await store.create(_new(f"Issue {n:02}")) for n in range(7)]
        first = await store.list(IssueQuery(offset=0, limit=3))
        second = await store.list(IssueQuery(offset=3, limit=3))
        last = await store.list(IssueQuery(offset=6, limit=3))
        beyond = await store.list(IssueQuery(offset=9, limit=3))
        assert _ids(first.items) == _ids(created[0:3])
        assert _ids(second.items) == _ids(created[3:6])
        assert _ids(last.items) == _ids(created[6:])
        assert list(beyond.items) == []
        assert {first.total, second.total, last.total, beyond.total} == {7}

    async def test_negative_offset_and_limit_read_as_zero(self, store: IssueStore) -> None:
        created = [await store.create(_new(f"Issue {n:02}")) for n in range(3)]
        from_start = await store.list(IssueQuery(offset=-1, limit=2))
        assert _ids(from_start.items) == _ids(created[:2])
        assert from_start.total == 3
        nothing = await store.list(IssueQuery(offset=1, limit=-1))
        assert list(nothing.items) == []
        assert nothing.total == 3

    async def test_list_returns_current_state(self, store: IssueStore) -> None:
        issue = await store.create(_new())
        updated = await store.update(issue.id, IssueUpdate(status=IssueStatus.in_progress))
        assert list((await store.list(IssueQuery())).items) == [updated]

    async def test_filters_by_status_and_priority(self, store: IssueStore) -> None:
        low = await store.create(_new("Low one", "low"))
        high = await store.create(_new("High one", "high"))
        medium = await store.create(_new("Medium one", "medium"))
        await store.update(high.id, IssueUpdate(status=IssueStatus.closed))
        by_status = await store.list(IssueQuery(status=[IssueStatus.open]))
        assert _ids(by_status.items) == [low.id, medium.id]
        assert by_status.total == 2
        by_priority = await store.list(IssueQuery(priority=[IssuePriority.low, IssuePriority.high]))
        assert _ids(by_priority.items) == [low.id, high.id]
        both = await store.list(
            IssueQuery(status=[IssueStatus.closed], priority=[IssuePriority.high])
        )
        assert _ids(both.items) == [high.id]

    async def test_filters_by_reporter(self, store: IssueStore) -> None:
        mine = await store.create(_new(), reporter="ada")
        await store.create(_new(), reporter="bob")
        await store.create(_new())
        page = await store.list(IssueQuery(reporter="ada"))
        assert _ids(page.items) == [mine.id]
        assert page.total == 1

    async def test_text_search_ignores_case_in_title_and_description(
        self, store: IssueStore
    ) -> None:
        in_title = await store.create(_new("Login FAILS", text="on every browser"))
        in_text = await store.create(_new("Other", text="the login page fails too"))
        await store.create(_new("Unrelated", text="nothing to see"))
        page = await store.list(IssueQuery(text="login"))
        assert _ids(page.items) == [in_title.id, in_text.id]
        assert page.total == 2
        assert (await store.list(IssueQuery(text="FAILS"))).total == 2

    async def test_text_search_treats_wildcards_literally(self, store: IssueStore) -> None:
        percent = await store.create(_new("100% broken"))
        await store.create(_new("Fully broken"))
        underscore = await store.create(_new("snake_case name"))
        await store.create(_new("snakeXcase name"))
        assert _ids((await store.list(IssueQuery(text="0%"))).items) == [percent.id]
        assert _ids((await store.list(IssueQuery(text="e_c"))).items) == [underscore.id]

    async def test_filters_by_time(self, store: IssueStore) -> None:
        old = await store.create(_new("Old"))
        await asyncio.sleep(0.01)  # clocks on some systems tick coarsely
        new = await store.create(_new("New"))
        await asyncio.sleep(0.01)
        touched = await store.update(old.id, IssueUpdate(title="Old but touched"))
        created_since = await store.list(IssueQuery(created_since=new.created_at))
        assert new.id in _ids(created_since.items)
        assert old.id not in _ids(created_since.items)
        updated_since = await store.list(IssueQuery(updated_since=touched.updated_at))
        assert _ids(updated_since.items) == [old.id]

    async def test_sorts_by_priority_with_creation_order_breaking_ties(
        self, store: IssueStore
    ) -> None:
        a = await store.create(_new("Issue a", "medium"))
        b = await store.create(_new("Issue b", "high"))
        c = await store.create(_new("Issue c", "low"))
        d = await store.create(_new("Issue d", "medium"))
        asc = await store.list(IssueQuery(sort="priority", direction="asc"))
        desc = await store.list(IssueQuery(sort="priority", direction="desc"))
        assert _ids(asc.items) == [c.id, a.id, d.id, b.id]
        assert _ids(desc.items) == [b.id, a.id, d.id, c.id]

    async def test_sorts_by_title_and_by_update_time(self, store: IssueStore) -> None:
        b = await store.create(_new("Banana"))
        a = await store.create(_new("Apple"))
        c = await store.create(_new("Cherry"))
        assert _ids((await store.list(IssueQuery(sort="title"))).items) == [a.id, b.id, c.id]
        assert _ids((await store.list(IssueQuery(sort="title", direction="desc"))).items) == [
            c.id,
            b.id,
            a.id,
        ]
        await asyncio.sleep(0.01)
        await store.update(b.id, IssueUpdate(priority=IssuePriority.high))
        newest_first = await store.list(IssueQuery(sort="updated_at", direction="desc"))
        assert _ids(newest_first.items)[0] == b.id
        oldest_first = await store.list(IssueQuery(sort="created_at", direction="desc"))
        assert _ids(oldest_first.items) == [c.id, a.id, b.id]

    async def test_sorts_titles_by_code_point(self, store: IssueStore) -> None:
        titles = ["apple", "Zebra", "Émile", "Banana", "zebra"]
        by_title = {(await store.create(_new(title))).id: title for title in titles}
        page = await store.list(IssueQuery(sort="title"))
        assert [by_title[i] for i in _ids(page.items)] == sorted(titles)
        page = await store.list(IssueQuery(sort="title", direction="desc"))
        assert [by_title[i] for i in _ids(page.items)] == sorted(titles, reverse=True)

    async def test_ties_keep_creation_order_in_both_directions(self, store: IssueStore) -> None:
        a = await store.create(_new("Beta"))
        b = await store.create(_new("Alpha"))
        c = await store.create(_new("Beta"))
        d = await store.create(_new("Alpha"))
        asc = await store.list(IssueQuery(sort="title"))
        desc = await store.list(IssueQuery(sort="title", direction="desc"))
        assert _ids(asc.items) == [b.id, d.id, a.id, c.id]
        assert _ids(desc.items) == [a.id, c.id, b.id, d.id]
        # Pages cut through the runs of equal titles without repeating or skipping one.
        pages = [
            await store.list(IssueQuery(sort="title", direction="desc", offset=n, limit=1))
            for n in range(4)
        ]
        assert [_ids(page.items)[0] for page in pages] == _ids(desc.items)

    async def test_text_search_folds_case_beyond_ascii(self, store: IssueStore) -> None:
        found = await store.create(_new("ÉCOLE fermée", text="Les portes restent closes"))
        await store.create(_new("Ecole ouverte", text="Les portes sont ouvertes"))
        assert _ids((await store.list(IssueQuery(text="école"))).items) == [found.id]
        assert _ids((await store.list(IssueQuery(text="RESTENT"))).items) == [found.id]

    async def test_text_search_treats_backslashes_literally(self, store: IssueStore) -> None:
        path = await store.create(_new("Path C:\\temp fails"))
        await store.create(_new("Path C:temp fails"))
        assert _ids((await store.list(IssueQuery(text="c:\\t"))).items) == [path.id]

    async def test_empty_text_matches_everything(self, store: IssueStore) -> None:
        await store.create(_new("One"))
        await store.create(_new("Two"))
        assert (await store.list(IssueQuery(text=""))).total == 2

    async def test_filters_sort_and_paging_combine(self, store: IssueStore) -> None:
        wanted = []
        for n in range(12):
            priority = ("low", "medium", "high")[n % 3]
            issue = await store.create(
                _new(f"Login issue {n}" if n % 2 else f"Other issue {n}", priority),
                reporter="ada" if n < 8 else "bob",
            )
            if n % 2 and n < 8 and priority != "low":
                wanted.append(issue)
        query = IssueQuery(
            text="LOGIN",
            reporter="ada",
            priority=[IssuePriority.medium, IssuePriority.high],
            sort="priority",
            direction="desc",
        )
        everything = await store.list(query)
        expected = sorted(wanted, key=lambda i: i.priority != IssuePriority.high)
        assert _ids(everything.items) == _ids(expected)
        second = await store.list(IssueQuery(**{**query.__dict__, "offset": 1, "limit": 1}))
        assert _ids(second.items) == _ids(expected[1:2])
        assert second.total == len(expected)

    async def test_list_and_get_agree_to_the_microsecond(self, store: IssueStore) -> None:
        created = await store.create(_new())
        updated = await store.update(created.id, IssueUpdate(title="Changed"))
        listed = (await store.list(IssueQuery())).items[0]
        fetched = await store.get(created.id)
        assert listed == fetched == updated
        assert listed.created_at == created.created_at
        assert listed.updated_at.utcoffset() == timedelta(0)

    async def test_filtered_pages_count_only_matches(self, store: IssueStore) -> None:
        highs = []
        for n in range(9):
            issue = await store.create(_new(f"Issue {n}", "high" if n % 3 == 0 else "low"))
            if n % 3 == 0:
                highs.append(issue)
        page = await store.list(IssueQuery(priority=[IssuePriority.high], offset=1, limit=1))
        assert page.total == 3
        assert _ids(page.items) == [highs[1].id]

    # -- concurrency ---------------------------------------------------------------------

    async def test_concurrent_creates_are_all_kept(self, store: IssueStore) -> None:
        created = await asyncio.gather(*(store.create(_new(f"Issue {n}")) for n in range(50)))
        page = await store.list(IssueQuery(limit=100))
        assert page.total == 50
        assert set(_ids(page.items)) == set(_ids(created))

    async def test_concurrent_updates_of_different_issues_are_all_kept(
        self, store: IssueStore
    ) -> None:
        issues = [await store.create(_new(f"Issue {n}")) for n in range(20)]
        await asyncio.gather(
            *(store.update(i.id, IssueUpdate(status=IssueStatus.closed)) for i in issues)
        )
        closed = await store.list(IssueQuery(status=[IssueStatus.closed], limit=100))
        assert closed.total == 20


# -- users -------------------------------------------------------------------------------
# The auth extra is imported inside the tests, so this module still imports without it.


def _user(
    username: str = "ada",
    *,
    email: str | None = "ada@example.com",
    full_name: str | None = "Ada Lovelace",
    disabled: bool = False,
    hashed_password: str = "stored-hash-1",
) -> UserInDB:
    from fastapi_issues.auth.users import UserInDB

    return UserInDB(
        username=username,
        email=email,
        full_name=full_name,
        disabled=disabled,
        hashed_password=SecretStr(hashed_password),
    )


def _update(**changes: Any) -> UserUpdate:
    from fastapi_issues.auth.users import UserUpdate

    return UserUpdate(**changes)


@pytest.mark.anyio
class UserStoreContract:
    """Contract tests for a `fastapi_issues.auth.UserStore`. Override the `store` fixture
    with one that yields a fresh, empty user store, as for `IssueStoreContract`.

    Usernames are unique in their normalised form (NFKC, case-folded). Stores written
    before that may hold names that collide: override `seed_colliding_users` to run the
    tests of how a store treats them (skipped otherwise).
    """

    @pytest.fixture
    def anyio_backend(self) -> str:
        return "asyncio"

    @pytest.fixture
    def store(self) -> Any:
        raise NotImplementedError("override the `store` fixture with a fresh, empty store")

    @pytest.fixture
    def seed_colliding_users(self, store: Any) -> Any:
        """An async function storing the users it is given into `store` as they are,
        past the check `create` makes (as an old file or table holds them)."""
        pytest.skip("override `seed_colliding_users` to test names stored before the rule")

    async def test_store_satisfies_the_protocol(self, store: UserStore) -> None:
        from fastapi_issues.auth.users import UserStore

        assert isinstance(store, UserStore)

    async def test_get_returns_what_create_stored(self, store: UserStore) -> None:
        created = await store.create(_user(disabled=True, hashed_password="stored-hash-ada"))
        assert created == _user(disabled=True, hashed_password="stored-hash-ada")
        fetched = await store.get("ada")
        assert fetched == created
        assert fetched.hashed_password.get_secret_value() == "stored-hash-ada"
        assert fetched.disabled is True
        assert (fetched.email, fetched.full_name) == ("ada@example.com", "Ada Lovelace")

    async def test_optional_fields_may_be_empty(self, store: UserStore) -> None:
        await store.create(_user("bob", email=None, full_name=None))
        bob = await store.get("bob")
        assert (bob.email, bob.full_name, bob.disabled) == (None, None, False)

    async def test_text_round_trips_exactly(self, store: UserStore) -> None:
        await store.create(_user("zoe", full_name='Zoë "Z" Ðurić ✓', email="zoë@exämple.org"))
        zoe = await store.get("zoe")
        assert zoe.full_name == 'Zoë "Z" Ðurić ✓'
        assert zoe.email == "zoë@exämple.org"

    async def test_get_unknown_user_raises_not_found(self, store: UserStore) -> None:
        from fastapi_issues.auth.users import UserNotFound

        with pytest.raises(UserNotFound) as caught:
            await store.get("nobody")
        assert caught.value.username == "nobody"

    async def test_names_that_differ_in_case_or_width_are_refused(self, store: UserStore) -> None:
        from fastapi_issues.auth.users import UserExists

        await store.create(_user("ada"))
        # "ADA" in full-width letters normalises (NFKC) to "ADA", which folds to "ada".
        for variant in ("Ada", "ADA", "\uff21\uff24\uff21"):
            with pytest.raises(UserExists) as caught:
                await store.create(_user(variant, hashed_password="stored-hash-2"))
            assert (caught.value.username, caught.value.existing) == (variant, "ada")
        assert [u.username for u in await store.list()] == ["ada"]
        assert (await store.get("ada")).hashed_password.get_secret_value() == "stored-hash-1"

    async def test_lookups_ignore_case_and_width_and_keep_the_display_form(
        self, store: UserStore
    ) -> None:
        created = await store.create(_user("Ada.L"))
        for variant in ("Ada.L", "ada.l", "ADA.L", "\uff41\uff44\uff41.\uff4c"):
            assert await store.get(variant) == created, variant
        assert [u.username for u in await store.list()] == ["Ada.L"]

    async def test_update_by_another_form_changes_the_stored_user(self, store: UserStore) -> None:
        await store.create(_user("Ada"))
        updated = await store.update("ADA", _update(disabled=True))
        assert updated == _user("Ada", disabled=True)
        assert [(u.username, u.disabled) for u in await store.list()] == [("Ada", True)]

    async def test_concurrent_creates_of_names_alike_let_exactly_one_win(
        self, store: UserStore
    ) -> None:
        from fastapi_issues.auth.users import UserExists, UserInDB

        names = ["dup", "Dup", "DUP", "dUp", "duP", "\uff24\uff35\uff30"]
        results = await asyncio.gather(
            *(store.create(_user(name)) for name in names), return_exceptions=True
        )
        winners = [r for r in results if isinstance(r, UserInDB)]
        assert len(winners) == 1, results
        assert sum(isinstance(r, UserExists) for r in results) == len(names) - 1
        assert list(await store.list()) == winners

    async def test_colliding_old_names_are_found_exactly_and_never_guessed(
        self, store: UserStore, seed_colliding_users: Any
    ) -> None:
        from fastapi_issues.auth.users import AmbiguousUsername, UserExists, UserNotFound

        await seed_colliding_users(
            [_user("alice", hashed_password="hash-a"), _user("Alice", hashed_password="hash-b")]
        )
        # Each keeps the account it had: the exact name wins.
        assert (await store.get("alice")).hashed_password.get_secret_value() == "hash-a"
        assert (await store.get("Alice")).hashed_password.get_secret_value() == "hash-b"
        # A third form fits both: neither is picked.
        with pytest.raises(AmbiguousUsername) as caught:
            await store.get("ALICE")
        assert isinstance(caught.value, UserNotFound)
        assert caught.value.candidates == ("Alice", "alice")
        with pytest.raises(AmbiguousUsername):
            await store.update("ALICE", _update(disabled=True))
        with pytest.raises(UserExists):
            await store.create(_user("aLiCe"))
        users = await store.list()
        assert [(u.username, u.disabled) for u in users] == [("Alice", False), ("alice", False)]

    async def test_create_refuses_a_taken_username(self, store: UserStore) -> None:
        from fastapi_issues.auth.users import UserExists

        await store.create(_user("ada", hashed_password="stored-hash-1"))
        with pytest.raises(UserExists) as caught:
            await store.create(_user("ada", email=None, hashed_password="stored-hash-2"))
        assert caught.value.username == "ada"
        kept = await store.get("ada")
        assert kept.hashed_password.get_secret_value() == "stored-hash-1"
        assert kept.email == "ada@example.com"

    async def test_concurrent_creates_of_one_name_let_exactly_one_win(
        self, store: UserStore
    ) -> None:
        from fastapi_issues.auth.users import UserExists, UserInDB

        results = await asyncio.gather(
            *(store.create(_user("ada", hashed_password=f"stored-hash-{n}")) for n in range(10)),
            return_exceptions=True,
        )
        winners = [r for r in results if isinstance(r, UserInDB)]
        assert len(winners) == 1
        assert sum(isinstance(r, UserExists) for r in results) == 9
        assert await store.get("ada") == winners[0]
        assert len(await store.list()) == 1

    async def test_update_changes_only_the_fields_set(self, store: UserStore) -> None:
        await store.create(_user())
        disabled = await store.update("ada", _update(disabled=True))
        assert disabled == _user(disabled=True)
        rehashed = await store.update("ada", _update(hashed_password=SecretStr("stored-hash-2")))
        assert rehashed == _user(disabled=True, hashed_password="stored-hash-2")
        assert await store.get("ada") == rehashed

    async def test_update_can_clear_optional_fields(self, store: UserStore) -> None:
        await store.create(_user())
        cleared = await store.update("ada", _update(email=None, full_name=None))
        assert (cleared.email, cleared.full_name) == (None, None)
        assert (await store.get("ada")).email is None

    async def test_update_without_changes_keeps_the_user(self, store: UserStore) -> None:
        await store.create(_user())
        assert await store.update("ada", _update()) == _user()
        assert await store.get("ada") == _user()

    async def test_update_unknown_user_raises_not_found(self, store: UserStore) -> None:
        from fastapi_issues.auth.users import UserNotFound

        with pytest.raises(UserNotFound):
            await store.update("nobody", _update(disabled=True))
        assert list(await store.list()) == []

    async def test_concurrent_updates_of_different_fields_are_all_kept(
        self, store: UserStore
    ) -> None:
        # A login re-hashing a password while an admin disables the user: neither may
        # undo the other.
        await store.create(_user())
        await asyncio.gather(
            store.update("ada", _update(hashed_password=SecretStr("stored-hash-2"))),
            store.update("ada", _update(disabled=True)),
            store.update("ada", _update(full_name="Countess of Lovelace")),
        )
        assert await store.get("ada") == _user(
            disabled=True, hashed_password="stored-hash-2", full_name="Countess of Lovelace"
        )

    async def test_list_of_an_empty_store(self, store: UserStore) -> None:
        assert list(await store.list()) == []

    async def test_list_orders_by_username_and_shows_current_state(self, store: UserStore) -> None:
        for name in ("carol", "ada", "bob"):
            await store.create(_user(name))
        await store.update("bob", _update(disabled=True))
        users = await store.list()
        assert [u.username for u in users] == ["ada", "bob", "carol"]
        assert [u.disabled for u in users] == [False, True, False]

    async def test_list_orders_usernames_by_code_point(self, store: UserStore) -> None:
        names = ["bob", "Zoe", "ada", "Bea", "9lives", "zed"]
        for name in names:
            await store.create(_user(name))
        assert [u.username for u in await store.list()] == sorted(names)

    async def test_concurrent_creates_are_all_kept(self, store: UserStore) -> None:
        await asyncio.gather(*(store.create(_user(f"user{n:02}")) for n in range(30)))
        assert [u.username for u in await store.list()] == [f"user{n:02}" for n in range(30)]

    async def test_stored_users_never_show_their_hash(self, store: UserStore) -> None:
        await store.create(_user(hashed_password="stored-hash-do-not-show"))
        user = await store.get("ada")
        for text in (repr(user), str(user), user.model_dump_json(), repr(await store.list())):
            assert "stored-hash-do-not-show" not in text
        assert "hashed_password" not in user.public().model_dump()


def _label(name: str, color: str = "ededed", description: str = "") -> LabelCreate:
    return LabelCreate(name=name, color=color, description=description)


@pytest.mark.anyio
class LabelStoreContract:
    """Contract tests for a `LabelStore`. Override the `store` fixture."""

    @pytest.fixture
    def anyio_backend(self) -> str:
        return "asyncio"

    @pytest.fixture
    def store(self) -> Any:
        raise NotImplementedError("override the `store` fixture with a fresh, empty store")

    async def test_store_satisfies_the_label_protocol(self, store: LabelStore) -> None:
        assert isinstance(store, LabelStore)

    # -- label definitions ---------------------------------------------------------------

    async def test_create_and_get_a_label_ignoring_case(self, store: LabelStore) -> None:
        label = await store.create_label(_label("Needs Triage", "#D73A4A", "Look at it"))
        assert label.name == "Needs Triage"
        assert label.color == "d73a4a"
        assert label.description == "Look at it"
        assert len(label.id) == 36
        assert await store.get_label("needs triage") == label
        assert await store.get_label("NEEDS TRIAGE") == label

    async def test_unknown_label_raises_not_found(self, store: LabelStore) -> None:
        with pytest.raises(LabelNotFound):
            await store.get_label("nope")
        with pytest.raises(LabelNotFound):
            await store.update_label("nope", LabelUpdate(color="000000"))
        with pytest.raises(LabelNotFound):
            await store.delete_label("nope")

    async def test_label_names_are_unique_ignoring_case(self, store: LabelStore) -> None:
        await store.create_label(_label("bug"))
        with pytest.raises(DuplicateLabel):
            await store.create_label(_label("BUG", "ff0000"))
        page = await store.list_labels()
        assert [label.name for label in page.items] == ["bug"]
        assert page.items[0].color == "ededed"

    async def test_concurrent_creates_of_one_name_let_exactly_one_win(
        self, store: LabelStore
    ) -> None:
        results = await asyncio.gather(
            *(store.create_label(_label(name)) for name in ["dup", "Dup", "DUP", "dUp"]),
            return_exceptions=True,
        )
        assert sum(isinstance(r, DuplicateLabel) for r in results) == 3
        assert (await store.list_labels()).total == 1

    async def test_labels_list_by_name_ignoring_case_in_pages(self, store: LabelStore) -> None:
        for name in ["beta", "Alpha", "gamma", "Delta"]:
            await store.create_label(_label(name))
        everything = await store.list_labels()
        assert [label.name for label in everything.items] == ["Alpha", "beta", "Delta", "gamma"]
        page = await store.list_labels(offset=1, limit=2)
        assert [label.name for label in page.items] == ["beta", "Delta"]
        assert page.total == 4

    async def test_update_a_label(self, store: LabelStore) -> None:
        label = await store.create_label(_label("bug"))
        changed = await store.update_label("BUG", LabelUpdate(color="00ff00", description="Bad"))
        assert changed.id == label.id
        assert (changed.name, changed.color, changed.description) == ("bug", "00ff00", "Bad")
        assert await store.get_label("bug") == changed
        assert await store.update_label("bug", LabelUpdate()) == changed

    async def test_rename_to_a_taken_name_is_refused(self, store: LabelStore) -> None:
        await store.create_label(_label("bug"))
        await store.create_label(_label("defect"))
        with pytest.raises(DuplicateLabel):
            await store.update_label("bug", LabelUpdate(name="Defect"))
        recased = await store.update_label("bug", LabelUpdate(name="Bug"))
        assert recased.name == "Bug"
        assert (await store.get_label("bug")).name == "Bug"

    async def test_renaming_a_label_renames_it_on_its_issues(self, store: LabelStore) -> None:
        await store.create_label(_label("bug"))
        issue = await store.add_issue_labels((await store.create(_new())).id, ["bug"])
        await store.update_label("bug", LabelUpdate(name="defect"))
        renamed = await store.get(issue.id)
        assert renamed.labels == ["defect"]
        # The label changed, not the issue.
        assert renamed.version == issue.version
        assert _ids((await store.list(IssueQuery(labels=["DEFECT"]))).items) == [issue.id]
        assert (await store.list(IssueQuery(labels=["bug"]))).total == 0

    async def test_deleting_a_label_takes_it_off_its_issues(self, store: LabelStore) -> None:
        await store.create_label(_label("bug"))
        await store.create_label(_label("ui"))
        issue = await store.set_issue_labels((await store.create(_new())).id, ["bug", "ui"])
        await store.delete_label("BUG")
        with pytest.raises(LabelNotFound):
            await store.get_label("bug")
        after = await store.get(issue.id)
        assert after.labels == ["ui"]
        assert after.version == issue.version
        # A new label of the same name is another label: the issue does not carry it.
        await store.create_label(_label("bug"))
        assert (await store.get(issue.id)).labels == ["ui"]
        assert (await store.list(IssueQuery(labels=["bug"]))).total == 0

    # -- labels on issues ----------------------------------------------------------------

    async def test_set_issue_labels(self, store: LabelStore) -> None:
        for name in ["bug", "UI", "docs"]:
            await store.create_label(_label(name))
        issue = await store.create(_new())
        labelled = await store.set_issue_labels(issue.id, ["ui", "Bug", "bug"])
        assert labelled.labels == ["bug", "UI"]
        assert labelled.version == 2
        assert labelled.updated_at >= issue.updated_at
        assert await store.get(issue.id) == labelled
        same = await store.set_issue_labels(issue.id, ["UI", "bug"])
        assert same.version == 2
        replaced = await store.set_issue_labels(issue.id, ["docs"])
        assert replaced.labels == ["docs"]
        cleared = await store.set_issue_labels(issue.id, [])
        assert cleared.labels == []
        assert cleared.version == 4

    async def test_add_and_remove_issue_labels(self, store: LabelStore) -> None:
        for name in ["bug", "ui", "docs"]:
            await store.create_label(_label(name))
        issue = await store.create(_new())
        added = await store.add_issue_labels(issue.id, ["bug"])
        added = await store.add_issue_labels(issue.id, ["UI", "bug"])
        assert added.labels == ["bug", "ui"]
        assert added.version == 3
        again = await store.add_issue_labels(issue.id, ["ui"])
        assert again.version == 3
        removed = await store.remove_issue_labels(issue.id, ["BUG", "docs"])
        assert removed.labels == ["ui"]
        assert removed.version == 4
        nothing = await store.remove_issue_labels(issue.id, ["docs"])
        assert nothing.version == 4

    async def test_unknown_label_names_change_nothing(self, store: LabelStore) -> None:
        await store.create_label(_label("bug"))
        issue = await store.add_issue_labels((await store.create(_new())).id, ["bug"])
        for edit in (store.set_issue_labels, store.add_issue_labels, store.remove_issue_labels):
            with pytest.raises(LabelNotFound) as info:
                await edit(issue.id, ["bug", "nope", "nada"])
            assert set(info.value.names) == {"nope", "nada"}
        assert await store.get(issue.id) == issue

    async def test_issue_label_edits_on_an_unknown_issue(self, store: LabelStore) -> None:
        await store.create_label(_label("bug"))
        for edit in (store.set_issue_labels, store.add_issue_labels, store.remove_issue_labels):
            with pytest.raises(IssueNotFound):
                await edit("missing", ["bug"])

    async def test_issue_label_edits_honour_the_expected_version(self, store: LabelStore) -> None:
        await store.create_label(_label("bug"))
        issue = await store.create(_new())
        await store.update(issue.id, IssueUpdate(title="Changed"))
        for edit in (store.set_issue_labels, store.add_issue_labels, store.remove_issue_labels):
            with pytest.raises(VersionConflict):
                await edit(issue.id, ["bug"], expected_version=1)
        assert (await store.get(issue.id)).version == 2
        ok = await store.add_issue_labels(issue.id, ["bug"], expected_version=2)
        assert ok.labels == ["bug"]

    async def test_an_issue_carries_at_most_twenty_labels(self, store: LabelStore) -> None:
        names = [f"label-{n:02}" for n in range(21)]
        for name in names:
            await store.create_label(_label(name))
        issue = await store.create(_new())
        with pytest.raises(TooManyLabels):
            await store.set_issue_labels(issue.id, names)
        full = await store.set_issue_labels(issue.id, names[:20])
        assert full.labels == names[:20]
        with pytest.raises(TooManyLabels):
            await store.add_issue_labels(issue.id, names[20:])
        assert await store.get(issue.id) == full
        assert (await store.add_issue_labels(issue.id, names[:3])).version == full.version

    async def test_an_issue_imported_over_the_limit_may_lose_or_swap_labels(
        self, store: LabelStore
    ) -> None:
        if not isinstance(store, IssueImporter):
            pytest.skip("the store does not import issues, so none can be over the limit")
        names = [f"label-{n:02}" for n in range(23)]
        for name in names:
            await store.create_label(_label(name))
        issue = await store.create(_new())
        over = issue.model_copy(update={"id": str(uuid.uuid4()), "labels": names[:22]})
        await store.import_issues([over])
        with pytest.raises(TooManyLabels):
            await store.add_issue_labels(over.id, names[22:])
        swapped = await store.set_issue_labels(over.id, [*names[1:22], names[22]])
        assert len(swapped.labels) == 22
        fewer = await store.remove_issue_labels(over.id, names[:1] + names[22:])
        assert fewer.labels == names[1:22]

    async def test_filters_by_labels_needing_all_of_them(self, store: LabelStore) -> None:
        for name in ["bug", "ui"]:
            await store.create_label(_label(name))
        bug = await store.set_issue_labels((await store.create(_new())).id, ["bug"])
        both = await store.set_issue_labels((await store.create(_new())).id, ["bug", "ui"])
        await store.set_issue_labels((await store.create(_new())).id, ["ui"])
        await store.create(_new())
        page = await store.list(IssueQuery(labels=["BUG"]))
        assert _ids(page.items) == [bug.id, both.id]
        assert page.total == 2
        assert page.items[1].labels == ["bug", "ui"]
        assert _ids((await store.list(IssueQuery(labels=["bug", "Ui"]))).items) == [both.id]
        assert (await store.list(IssueQuery(labels=["bug", "nope"]))).total == 0

    async def test_deleting_a_labelled_issue(self, store: LabelStore) -> None:
        await store.create_label(_label("bug"))
        issue = await store.add_issue_labels((await store.create(_new())).id, ["bug"])
        await store.delete(issue.id)
        assert (await store.list(IssueQuery(labels=["bug"]))).total == 0
        assert (await store.get_label("bug")).name == "bug"

    async def test_concurrent_label_edits_on_one_issue_lose_nothing(
        self, store: LabelStore
    ) -> None:
        names = [f"label-{n:02}" for n in range(20)]
        for name in names:
            await store.create_label(_label(name))
        issue = await store.set_issue_labels((await store.create(_new())).id, names[:10])
        await asyncio.gather(
            *(store.add_issue_labels(issue.id, [name]) for name in names[10:]),
            *(store.remove_issue_labels(issue.id, [name]) for name in names[:5]),
        )
        final = await store.get(issue.id)
        assert final.labels == names[5:]
        assert final.version == issue.version + 15


def _comment(body: str = "Me too.") -> CommentCreate:
    return CommentCreate(body=body)


def _comment_ids(items: Sequence[CommentOut]) -> list[str]:
    return [comment.id for comment in items]


@pytest.mark.anyio
class CommentStoreContract:
    """Contract tests for a `CommentStore`. Override the `store` fixture."""

    @pytest.fixture
    def anyio_backend(self) -> str:
        return "asyncio"

    @pytest.fixture
    def store(self) -> Any:
        raise NotImplementedError("override the `store` fixture with a fresh, empty store")

    async def test_store_satisfies_the_comment_protocol(self, store: CommentStore) -> None:
        assert isinstance(store, CommentStore)

    async def test_create_and_get_a_comment(self, store: CommentStore) -> None:
        issue = await store.create(_new())
        comment = await store.create_comment(issue.id, _comment("Seen it too."), author="ada")
        assert comment.issue_id == issue.id
        assert comment.body == "Seen it too."
        assert comment.author == "ada"
        assert comment.version == 1
        assert comment.created_at == comment.updated_at
        assert comment.created_at.utcoffset() == timedelta(0)
        assert len(comment.id) == 36
        assert await store.get_comment(issue.id, comment.id) == comment
        anonymous = await store.create_comment(issue.id, _comment())
        assert anonymous.author is None

    async def test_comments_on_an_unknown_issue(self, store: CommentStore) -> None:
        with pytest.raises(IssueNotFound):
            await store.create_comment("missing", _comment())
        with pytest.raises(IssueNotFound):
            await store.list_comments("missing")
        with pytest.raises(IssueNotFound):
            await store.get_comment("missing", "whatever")

    async def test_a_comment_belongs_to_its_issue(self, store: CommentStore) -> None:
        first = await store.create(_new())
        second = await store.create(_new())
        comment = await store.create_comment(first.id, _comment())
        with pytest.raises(CommentNotFound):
            await store.get_comment(second.id, comment.id)
        with pytest.raises(CommentNotFound):
            await store.update_comment(second.id, comment.id, CommentUpdate(body="Hijacked"))
        with pytest.raises(CommentNotFound):
            await store.delete_comment(second.id, comment.id)
        with pytest.raises(CommentNotFound):
            await store.get_comment(first.id, "00000000-0000-0000-0000-000000000000")
        assert (await store.get_comment(first.id, comment.id)).body == comment.body
        assert (await store.list_comments(second.id)).total == 0

    async def test_comments_list_oldest_first_in_pages(self, store: CommentStore) -> None:
        issue = await store.create(_new())
        other = await store.create(_new())
        comments = [await store.create_comment(issue.id, _comment(f"Note {n}")) for n in range(5)]
        await store.create_comment(other.id, _comment())
        everything = await store.list_comments(issue.id)
        assert _comment_ids(everything.items) == _comment_ids(comments)
        assert everything.total == 5
        page = await store.list_comments(issue.id, offset=2, limit=2)
        assert _comment_ids(page.items) == _comment_ids(comments[2:4])
        assert page.total == 5
        assert list((await store.list_comments(issue.id, offset=5)).items) == []

    async def test_comments_since(self, store: CommentStore) -> None:
        issue = await store.create(_new())
        old = await store.create_comment(issue.id, _comment("Old"))
        await asyncio.sleep(0.01)
        new = await store.create_comment(issue.id, _comment("New"))
        await asyncio.sleep(0.01)
        edited = await store.update_comment(issue.id, old.id, CommentUpdate(body="Old, edited"))
        since_new = await store.list_comments(issue.id, since=new.created_at)
        assert _comment_ids(since_new.items) == [old.id, new.id]
        since_edit = await store.list_comments(issue.id, since=edited.updated_at)
        assert _comment_ids(since_edit.items) == [old.id]
        assert since_edit.total == 1

    async def test_edit_a_comment(self, store: CommentStore) -> None:
        issue = await store.create(_new())
        comment = await store.create_comment(issue.id, _comment("Frist"), author="ada")
        edited = await store.update_comment(issue.id, comment.id, CommentUpdate(body="First"))
        assert edited.body == "First"
        assert edited.version == 2
        assert edited.author == "ada"
        assert edited.created_at == comment.created_at
        assert edited.updated_at >= comment.updated_at
        assert await store.get_comment(issue.id, comment.id) == edited
        same = await store.update_comment(issue.id, comment.id, CommentUpdate(body="First"))
        assert same == edited

    async def test_comment_edits_honour_the_expected_version(self, store: CommentStore) -> None:
        issue = await store.create(_new())
        comment = await store.create_comment(issue.id, _comment("One"))
        await store.update_comment(issue.id, comment.id, CommentUpdate(body="Two"))
        with pytest.raises(CommentVersionConflict):
            await store.update_comment(
                issue.id, comment.id, CommentUpdate(body="Three"), expected_version=1
            )
        with pytest.raises(VersionConflict):
            await store.delete_comment(issue.id, comment.id, expected_version=1)
        assert (await store.get_comment(issue.id, comment.id)).body == "Two"
        await store.delete_comment(issue.id, comment.id, expected_version=2)
        with pytest.raises(CommentNotFound):
            await store.get_comment(issue.id, comment.id)

    async def test_delete_a_comment(self, store: CommentStore) -> None:
        issue = await store.create(_new())
        kept = await store.create_comment(issue.id, _comment("Keep"))
        gone = await store.create_comment(issue.id, _comment("Drop"))
        await store.delete_comment(issue.id, gone.id)
        assert _comment_ids((await store.list_comments(issue.id)).items) == [kept.id]
        with pytest.raises(CommentNotFound):
            await store.delete_comment(issue.id, gone.id)

    async def test_issues_count_their_comments(self, store: CommentStore) -> None:
        issue = await store.create(_new())
        quiet = await store.create(_new())
        comments = [await store.create_comment(issue.id, _comment()) for _ in range(3)]
        await store.delete_comment(issue.id, comments[0].id)
        counted = await store.get(issue.id)
        assert counted.comment_count == 2
        # Comments are not changes to the issue itself.
        assert counted.version == issue.version
        assert counted.updated_at == issue.updated_at
        listed = {i.id: i.comment_count for i in (await store.list(IssueQuery())).items}
        assert listed == {issue.id: 2, quiet.id: 0}
        updated = await store.update(issue.id, IssueUpdate(title="Renamed"))
        assert updated.comment_count == 2

    async def test_deleting_an_issue_deletes_its_comments(self, store: CommentStore) -> None:
        issue = await store.create(_new())
        other = await store.create(_new())
        comment = await store.create_comment(issue.id, _comment())
        kept = await store.create_comment(other.id, _comment())
        await store.delete(issue.id)
        with pytest.raises(IssueNotFound):
            await store.list_comments(issue.id)
        with pytest.raises(IssueNotFound):
            await store.get_comment(issue.id, comment.id)
        assert _comment_ids((await store.list_comments(other.id)).items) == [kept.id]
        assert (await store.get(other.id)).comment_count == 1

    async def test_concurrent_comments_are_all_kept(self, store: CommentStore) -> None:
        issue = await store.create(_new())
        created = await asyncio.gather(
            *(store.create_comment(issue.id, _comment(f"Comment {n}")) for n in range(50))
        )
        page = await store.list_comments(issue.id, limit=100)
        assert page.total == 50
        assert set(_comment_ids(page.items)) == set(_comment_ids(created))
        assert (await store.get(issue.id)).comment_count == 50


class TrackerStoreContract(IssueStoreContract, LabelStoreContract, CommentStoreContract):
    """All three contracts, for a store with issues, labels and comments."""
