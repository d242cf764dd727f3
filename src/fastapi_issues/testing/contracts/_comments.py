"""The contract of a `CommentStore`: comments on issues."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta

import pytest

from fastapi_issues.schemas import (
    CommentCreate,
    CommentOut,
    CommentUpdate,
    IssueUpdate,
)
from fastapi_issues.storage.errors import (
    CommentNotFound,
    CommentVersionConflict,
    IssueNotFound,
)
from fastapi_issues.storage.protocols import CommentStore
from fastapi_issues.storage.query import IssueQuery
from fastapi_issues.testing.contracts._base import StoreContract, draft

__all__ = ["CommentStoreContract"]


def _comment(body: str = "Me too.") -> CommentCreate:
    return CommentCreate(body=body)


def _comment_ids(items: Sequence[CommentOut]) -> list[str]:
    return [comment.id for comment in items]


class CommentStoreContract(StoreContract):
    """Contract tests for a `CommentStore`. Override the `store` fixture."""

    async def test_store_satisfies_the_comment_protocol(self, store: CommentStore) -> None:
        assert isinstance(store, CommentStore)

    async def test_create_and_get_a_comment(self, store: CommentStore) -> None:
        issue = await store.create(draft())
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
        first = await store.create(draft())
        second = await store.create(draft())
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
        issue = await store.create(draft())
        other = await store.create(draft())
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
        issue = await store.create(draft())
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
        issue = await store.create(draft())
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
        issue = await store.create(draft())
        comment = await store.create_comment(issue.id, _comment("One"))
        await store.update_comment(issue.id, comment.id, CommentUpdate(body="Two"))
        with pytest.raises(CommentVersionConflict):
            await store.update_comment(
                issue.id, comment.id, CommentUpdate(body="Three"), expected_version=1
            )
        with pytest.raises(CommentVersionConflict):
            await store.delete_comment(issue.id, comment.id, expected_version=1)
        assert (await store.get_comment(issue.id, comment.id)).body == "Two"
        await store.delete_comment(issue.id, comment.id, expected_version=2)
        with pytest.raises(CommentNotFound):
            await store.get_comment(issue.id, comment.id)

    async def test_delete_a_comment(self, store: CommentStore) -> None:
        issue = await store.create(draft())
        kept = await store.create_comment(issue.id, _comment("Keep"))
        gone = await store.create_comment(issue.id, _comment("Drop"))
        await store.delete_comment(issue.id, gone.id)
        assert _comment_ids((await store.list_comments(issue.id)).items) == [kept.id]
        with pytest.raises(CommentNotFound):
            await store.delete_comment(issue.id, gone.id)

    async def test_issues_count_their_comments(self, store: CommentStore) -> None:
        issue = await store.create(draft())
        quiet = await store.create(draft())
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
        issue = await store.create(draft())
        other = await store.create(draft())
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
        issue = await store.create(draft())
        created = await asyncio.gather(
            *(store.create_comment(issue.id, _comment(f"Comment {n}")) for n in range(50))
        )
        page = await store.list_comments(issue.id, limit=100)
        assert page.total == 50
        assert set(_comment_ids(page.items)) == set(_comment_ids(created))
        assert (await store.get(issue.id)).comment_count == 50
