"""The contract of a `LabelStore`: label definitions and the labels on issues."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from fastapi_issues.schemas import (
    IssueUpdate,
    LabelCreate,
    LabelUpdate,
)
from fastapi_issues.storage.errors import (
    DuplicateLabel,
    IssueNotFound,
    LabelNotFound,
    TooManyLabels,
    VersionConflict,
)
from fastapi_issues.storage.protocols import IssueImporter, LabelStore
from fastapi_issues.storage.query import IssueQuery
from fastapi_issues.testing.contracts._base import StoreContract, draft, ids_of

__all__ = ["LabelStoreContract"]


def _label(name: str, color: str = "ededed", description: str = "") -> LabelCreate:
    return LabelCreate(name=name, color=color, description=description)


class LabelStoreContract(StoreContract):
    """Contract tests for a `LabelStore`. Override the `store` fixture."""

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
        issue = await store.add_issue_labels((await store.create(draft())).id, ["bug"])
        await store.update_label("bug", LabelUpdate(name="defect"))
        renamed = await store.get(issue.id)
        assert renamed.labels == ["defect"]
        # The label changed, not the issue.
        assert renamed.version == issue.version
        assert ids_of((await store.list(IssueQuery(labels=["DEFECT"]))).items) == [issue.id]
        assert (await store.list(IssueQuery(labels=["bug"]))).total == 0

    async def test_deleting_a_label_takes_it_off_its_issues(self, store: LabelStore) -> None:
        await store.create_label(_label("bug"))
        await store.create_label(_label("ui"))
        issue = await store.set_issue_labels((await store.create(draft())).id, ["bug", "ui"])
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
        issue = await store.create(draft())
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
        issue = await store.create(draft())
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
        issue = await store.add_issue_labels((await store.create(draft())).id, ["bug"])
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
        issue = await store.create(draft())
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
        issue = await store.create(draft())
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
        issue = await store.create(draft())
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
        bug = await store.set_issue_labels((await store.create(draft())).id, ["bug"])
        both = await store.set_issue_labels((await store.create(draft())).id, ["bug", "ui"])
        await store.set_issue_labels((await store.create(draft())).id, ["ui"])
        await store.create(draft())
        page = await store.list(IssueQuery(labels=["BUG"]))
        assert ids_of(page.items) == [bug.id, both.id]
        assert page.total == 2
        assert page.items[1].labels == ["bug", "ui"]
        assert ids_of((await store.list(IssueQuery(labels=["bug", "Ui"]))).items) == [both.id]
        assert (await store.list(IssueQuery(labels=["bug", "nope"]))).total == 0

    async def test_deleting_a_labelled_issue(self, store: LabelStore) -> None:
        await store.create_label(_label("bug"))
        issue = await store.add_issue_labels((await store.create(draft())).id, ["bug"])
        await store.delete(issue.id)
        assert (await store.list(IssueQuery(labels=["bug"]))).total == 0
        assert (await store.get_label("bug")).name == "bug"

    async def test_concurrent_label_edits_on_one_issue_lose_nothing(
        self, store: LabelStore
    ) -> None:
        names = [f"label-{n:02}" for n in range(20)]
        for name in names:
            await store.create_label(_label(name))
        issue = await store.set_issue_labels((await store.create(draft())).id, names[:10])
        await asyncio.gather(
            *(store.add_issue_labels(issue.id, [name]) for name in names[10:]),
            *(store.remove_issue_labels(issue.id, [name]) for name in names[:5]),
        )
        final = await store.get(issue.id)
        assert final.labels == names[5:]
        assert final.version == issue.version + 15
