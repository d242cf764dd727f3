"""The contract of an `IssueStore`: create, read, update, delete and list issues."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

import pytest

from fastapi_issues.schemas import (
    IssueOut,
    IssuePriority,
    IssueStatus,
    IssueUpdate,
    StateReason,
)
from fastapi_issues.storage.errors import (
    InvalidIssueChange,
    IssueNotFound,
    VersionConflict,
)
from fastapi_issues.storage.protocols import IssueStore
from fastapi_issues.storage.query import ASSIGNEE_ANY, ASSIGNEE_NONE, IssueQuery
from fastapi_issues.testing.contracts._base import StoreContract, draft, ids_of

__all__ = ["IssueStoreContract"]


class IssueStoreContract(StoreContract):
    """Contract tests for an `IssueStore`. Override the `store` fixture."""

    # -- create and get ------------------------------------------------------------------

    async def test_store_satisfies_the_protocol(self, store: IssueStore) -> None:
        assert isinstance(store, IssueStore)

    async def test_create_returns_an_open_issue_at_version_one(self, store: IssueStore) -> None:
        issue = await store.create(draft("Crash on save", "high"), reporter="ada")
        assert issue.title == "Crash on save"
        assert issue.priority is IssuePriority.high
        assert issue.status is IssueStatus.open
        assert issue.reporter == "ada"
        assert issue.version == 1
        assert issue.created_at == issue.updated_at
        assert issue.created_at.utcoffset() == timedelta(0)
        assert len(issue.id) == 36

    async def test_get_returns_what_create_returned(self, store: IssueStore) -> None:
        created = await store.create(draft())
        assert await store.get(created.id) == created

    async def test_get_unknown_id_raises_not_found(self, store: IssueStore) -> None:
        with pytest.raises(IssueNotFound):
            await store.get("00000000-0000-0000-0000-000000000000")

    async def test_unusual_ids_and_filters_are_simply_not_found(self, store: IssueStore) -> None:
        await store.create(draft(), reporter="ada")
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
        issue = await store.create(draft())
        assert issue.reporter is None
        assert (await store.get(issue.id)).reporter is None

    async def test_new_issue_has_no_labels_assignees_comments_or_closing(
        self, store: IssueStore
    ) -> None:
        issue = await store.get((await store.create(draft())).id)
        assert issue.labels == []
        assert issue.assignees == []
        assert issue.comment_count == 0
        assert issue.closed_at is None
        assert issue.closed_by is None
        assert issue.state_reason is None

    # -- assignees -----------------------------------------------------------------------

    async def test_assignees_are_kept_sorted(self, store: IssueStore) -> None:
        issue = await store.create(draft(assignees=["zoe", "ada"]))
        assert issue.assignees == ["ada", "zoe"]
        assert (await store.get(issue.id)).assignees == ["ada", "zoe"]

    async def test_update_replaces_the_assignees(self, store: IssueStore) -> None:
        issue = await store.create(draft(assignees=["ada"]))
        updated = await store.update(issue.id, IssueUpdate(assignees=["bob", "cy"]))
        assert updated.assignees == ["bob", "cy"]
        assert updated.version == 2
        same = await store.update(issue.id, IssueUpdate(assignees=["cy", "bob"]))
        assert same.version == 2
        cleared = await store.update(issue.id, IssueUpdate(assignees=[]))
        assert cleared.assignees == []
        assert (await store.get(issue.id)).assignees == []

    async def test_filters_by_assignee(self, store: IssueStore) -> None:
        ada = await store.create(draft(assignees=["ada"]))
        both = await store.create(draft(assignees=["ada", "bob"]))
        nobody = await store.create(draft())
        bob = await store.create(draft(assignees=["bob"]))

        async def ids(assignee: str) -> list[str]:
            page = await store.list(IssueQuery(assignee=assignee))
            assert page.total == len(page.items)
            return ids_of(page.items)

        assert await ids("ada") == [ada.id, both.id]
        assert await ids("bob") == [both.id, bob.id]
        assert await ids("eve") == []
        assert await ids(ASSIGNEE_NONE) == [nobody.id]
        assert await ids(ASSIGNEE_ANY) == [ada.id, both.id, bob.id]
        combined = await store.list(IssueQuery(assignee="bob", priority=[IssuePriority.low]))
        assert combined.total == 0

    async def test_label_filter_with_unknown_names_matches_nothing(self, store: IssueStore) -> None:
        await store.create(draft())
        page = await store.list(IssueQuery(labels=["no-such-label"]))
        assert list(page.items) == []
        assert page.total == 0

    # -- closing -------------------------------------------------------------------------

    async def test_closing_records_when_and_by_whom(self, store: IssueStore) -> None:
        issue = await store.create(draft())
        closed = await store.update(issue.id, IssueUpdate(status=IssueStatus.closed), actor="ada")
        assert closed.status is IssueStatus.closed
        assert closed.closed_by == "ada"
        assert closed.closed_at == closed.updated_at
        assert closed.closed_at is not None
        assert closed.closed_at.utcoffset() == timedelta(0)
        assert closed.state_reason is StateReason.completed
        assert await store.get(issue.id) == closed

    async def test_closing_with_a_reason(self, store: IssueStore) -> None:
        issue = await store.create(draft())
        closed = await store.update(
            issue.id,
            IssueUpdate(status=IssueStatus.closed, state_reason=StateReason.not_planned),
        )
        assert closed.state_reason is StateReason.not_planned
        assert closed.closed_by is None
        assert closed.version == 2

    async def test_reopening_clears_the_closing_fields(self, store: IssueStore) -> None:
        issue = await store.create(draft())
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
        issue = await store.create(draft())
        closed = await store.update(issue.id, IssueUpdate(status=IssueStatus.closed), actor="a")
        same = await store.update(issue.id, IssueUpdate(status=IssueStatus.closed), actor="b")
        assert same == closed
        assert same.closed_by == "a"

    async def test_the_reason_of_a_closed_issue_can_change(self, store: IssueStore) -> None:
        issue = await store.create(draft())
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
        issue = await store.create(draft("Still open"))
        with pytest.raises(InvalidIssueChange) as info:
            await store.update(
                issue.id, IssueUpdate(title="Changed", state_reason=StateReason.duplicate)
            )
        assert info.value.field == "state_reason"
        assert await store.get(issue.id) == issue

    # -- update --------------------------------------------------------------------------

    async def test_update_changes_only_the_fields_sent(self, store: IssueStore) -> None:
        issue = await store.create(draft("Original", "low"))
        updated = await store.update(issue.id, IssueUpdate(status=IssueStatus.closed))
        assert updated.status is IssueStatus.closed
        assert updated.title == "Original"
        assert updated.priority is IssuePriority.low
        assert updated.version == 2
        assert updated.updated_at >= issue.updated_at
        assert updated.created_at == issue.created_at
        assert await store.get(issue.id) == updated

    async def test_update_that_changes_nothing_keeps_the_version(self, store: IssueStore) -> None:
        issue = await store.create(draft("Same", "low"))
        same = await store.update(issue.id, IssueUpdate(title="Same", priority=IssuePriority.low))
        assert same.version == 1
        assert same == issue
        empty = await store.update(issue.id, IssueUpdate())
        assert empty.version == 1

    async def test_update_unknown_id_raises_not_found(self, store: IssueStore) -> None:
        with pytest.raises(IssueNotFound):
            await store.update("missing", IssueUpdate(title="Nope"))

    async def test_update_with_the_current_version_succeeds(self, store: IssueStore) -> None:
        issue = await store.create(draft())
        updated = await store.update(issue.id, IssueUpdate(title="Renamed"), expected_version=1)
        assert updated.version == 2

    async def test_update_with_a_stale_version_conflicts(self, store: IssueStore) -> None:
        issue = await store.create(draft("First"))
        await store.update(issue.id, IssueUpdate(title="Second"))
        with pytest.raises(VersionConflict):
            await store.update(issue.id, IssueUpdate(title="Third"), expected_version=1)
        assert (await store.get(issue.id)).title == "Second"

    async def test_concurrent_conditional_updates_let_exactly_one_win(
        self, store: IssueStore
    ) -> None:
        issue = await store.create(draft())
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
        issue = await store.create(draft())
        await asyncio.gather(
            *(store.update(issue.id, IssueUpdate(title=f"Edit {n}")) for n in range(10))
        )
        # Last write wins, but every write counts: none was based on a stale copy.
        assert (await store.get(issue.id)).version == 11

    async def test_update_of_a_deleted_issue_raises_not_found(self, store: IssueStore) -> None:
        issue = await store.create(draft())
        await store.delete(issue.id)
        with pytest.raises(IssueNotFound):
            await store.update(issue.id, IssueUpdate(title="Too late"))
        with pytest.raises(IssueNotFound):
            await store.update(issue.id, IssueUpdate(title="Too late"), expected_version=1)

    # -- delete --------------------------------------------------------------------------

    async def test_delete_removes_the_issue(self, store: IssueStore) -> None:
        issue = await store.create(draft())
        await store.delete(issue.id)
        with pytest.raises(IssueNotFound):
            await store.get(issue.id)
        assert (await store.list(IssueQuery())).total == 0

    async def test_delete_unknown_id_raises_not_found(self, store: IssueStore) -> None:
        with pytest.raises(IssueNotFound):
            await store.delete("missing")

    async def test_delete_with_a_stale_version_conflicts(self, store: IssueStore) -> None:
        issue = await store.create(draft())
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
        issue = await store.create(draft())
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
        created = [await store.create(draft(f"Issue {n:02}")) for n in range(7)]
        first = await store.list(IssueQuery(offset=0, limit=3))
        second = await store.list(IssueQuery(offset=3, limit=3))
        last = await store.list(IssueQuery(offset=6, limit=3))
        beyond = await store.list(IssueQuery(offset=9, limit=3))
        assert ids_of(first.items) == ids_of(created[0:3])
        assert ids_of(second.items) == ids_of(created[3:6])
        assert ids_of(last.items) == ids_of(created[6:])
        assert list(beyond.items) == []
        assert {first.total, second.total, last.total, beyond.total} == {7}

    async def test_negative_offset_and_limit_read_as_zero(self, store: IssueStore) -> None:
        created = [await store.create(draft(f"Issue {n:02}")) for n in range(3)]
        from_start = await store.list(IssueQuery(offset=-1, limit=2))
        assert ids_of(from_start.items) == ids_of(created[:2])
        assert from_start.total == 3
        nothing = await store.list(IssueQuery(offset=1, limit=-1))
        assert list(nothing.items) == []
        assert nothing.total == 3

    async def test_list_returns_current_state(self, store: IssueStore) -> None:
        issue = await store.create(draft())
        updated = await store.update(issue.id, IssueUpdate(status=IssueStatus.in_progress))
        assert list((await store.list(IssueQuery())).items) == [updated]

    async def test_filters_by_status_and_priority(self, store: IssueStore) -> None:
        low = await store.create(draft("Low one", "low"))
        high = await store.create(draft("High one", "high"))
        medium = await store.create(draft("Medium one", "medium"))
        await store.update(high.id, IssueUpdate(status=IssueStatus.closed))
        by_status = await store.list(IssueQuery(status=[IssueStatus.open]))
        assert ids_of(by_status.items) == [low.id, medium.id]
        assert by_status.total == 2
        by_priority = await store.list(IssueQuery(priority=[IssuePriority.low, IssuePriority.high]))
        assert ids_of(by_priority.items) == [low.id, high.id]
        both = await store.list(
            IssueQuery(status=[IssueStatus.closed], priority=[IssuePriority.high])
        )
        assert ids_of(both.items) == [high.id]

    async def test_filters_by_reporter(self, store: IssueStore) -> None:
        mine = await store.create(draft(), reporter="ada")
        await store.create(draft(), reporter="bob")
        await store.create(draft())
        page = await store.list(IssueQuery(reporter="ada"))
        assert ids_of(page.items) == [mine.id]
        assert page.total == 1

    async def test_text_search_ignores_case_in_title_and_description(
        self, store: IssueStore
    ) -> None:
        in_title = await store.create(draft("Login FAILS", text="on every browser"))
        in_text = await store.create(draft("Other", text="the login page fails too"))
        await store.create(draft("Unrelated", text="nothing to see"))
        page = await store.list(IssueQuery(text="login"))
        assert ids_of(page.items) == [in_title.id, in_text.id]
        assert page.total == 2
        assert (await store.list(IssueQuery(text="FAILS"))).total == 2

    async def test_text_search_treats_wildcards_literally(self, store: IssueStore) -> None:
        percent = await store.create(draft("100% broken"))
        await store.create(draft("Fully broken"))
        underscore = await store.create(draft("snake_case name"))
        await store.create(draft("snakeXcase name"))
        assert ids_of((await store.list(IssueQuery(text="0%"))).items) == [percent.id]
        assert ids_of((await store.list(IssueQuery(text="e_c"))).items) == [underscore.id]

    async def test_filters_by_time(self, store: IssueStore) -> None:
        old = await store.create(draft("Old"))
        await asyncio.sleep(0.01)  # clocks on some systems tick coarsely
        new = await store.create(draft("New"))
        await asyncio.sleep(0.01)
        touched = await store.update(old.id, IssueUpdate(title="Old but touched"))
        created_since = await store.list(IssueQuery(created_since=new.created_at))
        assert new.id in ids_of(created_since.items)
        assert old.id not in ids_of(created_since.items)
        updated_since = await store.list(IssueQuery(updated_since=touched.updated_at))
        assert ids_of(updated_since.items) == [old.id]

    async def test_sorts_by_priority_with_creation_order_breaking_ties(
        self, store: IssueStore
    ) -> None:
        a = await store.create(draft("Issue a", "medium"))
        b = await store.create(draft("Issue b", "high"))
        c = await store.create(draft("Issue c", "low"))
        d = await store.create(draft("Issue d", "medium"))
        asc = await store.list(IssueQuery(sort="priority", direction="asc"))
        desc = await store.list(IssueQuery(sort="priority", direction="desc"))
        assert ids_of(asc.items) == [c.id, a.id, d.id, b.id]
        assert ids_of(desc.items) == [b.id, a.id, d.id, c.id]

    async def test_sorts_by_title_and_by_update_time(self, store: IssueStore) -> None:
        b = await store.create(draft("Banana"))
        a = await store.create(draft("Apple"))
        c = await store.create(draft("Cherry"))
        assert ids_of((await store.list(IssueQuery(sort="title"))).items) == [a.id, b.id, c.id]
        assert ids_of((await store.list(IssueQuery(sort="title", direction="desc"))).items) == [
            c.id,
            b.id,
            a.id,
        ]
        await asyncio.sleep(0.01)
        await store.update(b.id, IssueUpdate(priority=IssuePriority.high))
        newest_first = await store.list(IssueQuery(sort="updated_at", direction="desc"))
        assert ids_of(newest_first.items)[0] == b.id
        oldest_first = await store.list(IssueQuery(sort="created_at", direction="desc"))
        assert ids_of(oldest_first.items) == [c.id, a.id, b.id]

    async def test_sorts_titles_by_code_point(self, store: IssueStore) -> None:
        titles = ["apple", "Zebra", "Émile", "Banana", "zebra"]
        by_title = {(await store.create(draft(title))).id: title for title in titles}
        page = await store.list(IssueQuery(sort="title"))
        assert [by_title[i] for i in ids_of(page.items)] == sorted(titles)
        page = await store.list(IssueQuery(sort="title", direction="desc"))
        assert [by_title[i] for i in ids_of(page.items)] == sorted(titles, reverse=True)

    async def test_ties_keep_creation_order_in_both_directions(self, store: IssueStore) -> None:
        a = await store.create(draft("Beta"))
        b = await store.create(draft("Alpha"))
        c = await store.create(draft("Beta"))
        d = await store.create(draft("Alpha"))
        asc = await store.list(IssueQuery(sort="title"))
        desc = await store.list(IssueQuery(sort="title", direction="desc"))
        assert ids_of(asc.items) == [b.id, d.id, a.id, c.id]
        assert ids_of(desc.items) == [a.id, c.id, b.id, d.id]
        # Pages cut through the runs of equal titles without repeating or skipping one.
        pages = [
            await store.list(IssueQuery(sort="title", direction="desc", offset=n, limit=1))
            for n in range(4)
        ]
        assert [ids_of(page.items)[0] for page in pages] == ids_of(desc.items)

    async def test_text_search_folds_case_beyond_ascii(self, store: IssueStore) -> None:
        found = await store.create(draft("ÉCOLE fermée", text="Les portes restent closes"))
        await store.create(draft("Ecole ouverte", text="Les portes sont ouvertes"))
        assert ids_of((await store.list(IssueQuery(text="école"))).items) == [found.id]
        assert ids_of((await store.list(IssueQuery(text="RESTENT"))).items) == [found.id]

    async def test_text_search_treats_backslashes_literally(self, store: IssueStore) -> None:
        path = await store.create(draft("Path C:\\temp fails"))
        await store.create(draft("Path C:temp fails"))
        assert ids_of((await store.list(IssueQuery(text="c:\\t"))).items) == [path.id]

    async def test_empty_text_matches_everything(self, store: IssueStore) -> None:
        await store.create(draft("One"))
        await store.create(draft("Two"))
        assert (await store.list(IssueQuery(text=""))).total == 2

    async def test_filters_sort_and_paging_combine(self, store: IssueStore) -> None:
        wanted = []
        for n in range(12):
            priority = ("low", "medium", "high")[n % 3]
            issue = await store.create(
                draft(f"Login issue {n}" if n % 2 else f"Other issue {n}", priority),
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
        assert ids_of(everything.items) == ids_of(expected)
        second = await store.list(IssueQuery(**{**query.__dict__, "offset": 1, "limit": 1}))
        assert ids_of(second.items) == ids_of(expected[1:2])
        assert second.total == len(expected)

    async def test_list_and_get_agree_to_the_microsecond(self, store: IssueStore) -> None:
        created = await store.create(draft())
        updated = await store.update(created.id, IssueUpdate(title="Changed"))
        listed = (await store.list(IssueQuery())).items[0]
        fetched = await store.get(created.id)
        assert listed == fetched == updated
        assert listed.created_at == created.created_at
        assert listed.updated_at.utcoffset() == timedelta(0)

    async def test_filtered_pages_count_only_matches(self, store: IssueStore) -> None:
        highs = []
        for n in range(9):
            issue = await store.create(draft(f"Issue {n}", "high" if n % 3 == 0 else "low"))
            if n % 3 == 0:
                highs.append(issue)
        page = await store.list(IssueQuery(priority=[IssuePriority.high], offset=1, limit=1))
        assert page.total == 3
        assert ids_of(page.items) == [highs[1].id]

    # -- due dates -----------------------------------------------------------------------

    async def test_due_date_is_kept_and_optional(self, store: IssueStore) -> None:
        due = await store.create(draft("Due", due_date=date(2024, 2, 29)))
        assert due.due_date == date(2024, 2, 29)
        assert (await store.get(due.id)).due_date == date(2024, 2, 29)
        assert (await store.create(draft("Not due"))).due_date is None
        extremes = [await store.create(draft(due_date=day)) for day in (date.min, date.max)]
        assert [(await store.get(i.id)).due_date for i in extremes] == [date.min, date.max]

    async def test_due_date_is_set_changed_and_cleared_by_update(self, store: IssueStore) -> None:
        issue = await store.create(draft())
        later = await store.update(issue.id, IssueUpdate(due_date=date(2024, 5, 1)))
        assert (later.due_date, later.version) == (date(2024, 5, 1), 2)
        same = await store.update(issue.id, IssueUpdate(due_date=date(2024, 5, 1)))
        assert same.version == 2
        untouched = await store.update(issue.id, IssueUpdate(title="Renamed"))
        assert untouched.due_date == date(2024, 5, 1)
        cleared = await store.update(issue.id, IssueUpdate.model_validate({"due_date": None}))
        assert (cleared.due_date, cleared.version) == (None, 4)
        assert (await store.get(issue.id)).due_date is None

    async def test_filters_by_due_date_inclusively(self, store: IssueStore) -> None:
        days = [date(2024, 2, 28), date(2024, 2, 29), date(2024, 3, 1), None]
        issues = [await store.create(draft(due_date=day)) for day in days]
        before = await store.list(IssueQuery(due_before=date(2024, 2, 29)))
        assert ids_of(before.items) == ids_of(issues[:2])
        after = await store.list(IssueQuery(due_after=date(2024, 2, 29)))
        assert ids_of(after.items) == ids_of(issues[1:3])
        on = await store.list(IssueQuery(due_after=days[1], due_before=days[1]))
        assert (ids_of(on.items), on.total) == ([issues[1].id], 1)
        # An issue without a due date matches neither, however wide the range.
        wide = await store.list(IssueQuery(due_after=date.min, due_before=date.max))
        assert wide.total == 3

    async def test_sorts_by_due_date_with_issues_not_due_last(self, store: IssueStore) -> None:
        a = await store.create(draft("Issue a", due_date=date(2024, 3, 1)))
        b = await store.create(draft("Issue b"))
        c = await store.create(draft("Issue c", due_date=date(2024, 1, 1)))
        d = await store.create(draft("Issue d", due_date=date(2024, 3, 1)))
        e = await store.create(draft("Issue e"))
        asc = await store.list(IssueQuery(sort="due_date"))
        desc = await store.list(IssueQuery(sort="due_date", direction="desc"))
        assert ids_of(asc.items) == [c.id, a.id, d.id, b.id, e.id]
        assert ids_of(desc.items) == [a.id, d.id, c.id, b.id, e.id]
        pages = [
            await store.list(IssueQuery(sort="due_date", direction="desc", offset=n, limit=2))
            for n in (0, 2, 4)
        ]
        assert [i for page in pages for i in ids_of(page.items)] == ids_of(desc.items)

    # -- concurrency ---------------------------------------------------------------------

    async def test_concurrent_creates_are_all_kept(self, store: IssueStore) -> None:
        created = await asyncio.gather(*(store.create(draft(f"Issue {n}")) for n in range(50)))
        page = await store.list(IssueQuery(limit=100))
        assert page.total == 50
        assert set(ids_of(page.items)) == set(ids_of(created))

    async def test_concurrent_updates_of_different_issues_are_all_kept(
        self, store: IssueStore
    ) -> None:
        issues = [await store.create(draft(f"Issue {n}")) for n in range(20)]
        await asyncio.gather(
            *(store.update(i.id, IssueUpdate(status=IssueStatus.closed)) for i in issues)
        )
        closed = await store.list(IssueQuery(status=[IssueStatus.closed], limit=100))
        assert closed.total == 20
