"""Who made each write reaches the store's event log, and stores without one get no `actor`."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI

from fastapi_issues import (
    InMemoryIssueStore,
    IssueCreate,
    IssueOut,
    IssueUpdate,
    make_comment_router,
    make_issue_router,
    make_label_router,
)
from fastapi_issues.storage.query import EventQuery, IssuePage, IssueQuery
from tests.routers.test_comments import ADA, BOB, ROOT, client_for, header_user

pytestmark = pytest.mark.anyio

ISSUES = "/api/v1/issues"


def tracker_app(store: Any) -> FastAPI:
    app = FastAPI()
    for make in (make_issue_router, make_label_router, make_comment_router):
        app.include_router(make(store, auth_dependency=header_user))
    return app


async def test_every_write_records_the_user_who_made_it() -> None:
    store = InMemoryIssueStore()
    async with client_for(tracker_app(store)) as client:
        issue = (
            await client.post(
                ISSUES, json={"title": "Crash", "description": "On save"}, headers=ADA
            )
        ).json()
        url = f"{ISSUES}/{issue['id']}"
        assert (
            await client.patch(url, json={"title": "Crash on save"}, headers=BOB)
        ).status_code == 200
        assert (
            await client.post("/api/v1/labels", json={"name": "bug"}, headers=ROOT)
        ).status_code == 201
        assert (
            await client.post(f"{url}/labels", json={"labels": ["bug"]}, headers=BOB)
        ).status_code == 200
        assert (await client.delete(f"{url}/labels/bug", headers=ROOT)).status_code == 200
        assert (
            await client.put(f"{url}/labels", json={"labels": ["bug"]}, headers=ADA)
        ).status_code == 200
        comment = (await client.post(f"{url}/comments", json={"body": "Seen"}, headers=ADA)).json()
        comment_url = f"{url}/comments/{comment['id']}"
        assert (
            await client.patch(comment_url, json={"body": "Seen twice"}, headers=ADA)
        ).status_code == 200
        assert (await client.delete(comment_url, headers=ADA)).status_code == 204
        assert (await client.delete("/api/v1/labels/bug", headers=BOB)).status_code == 204
        assert (await client.delete(url, headers=ADA)).status_code == 204
    events = await store.list_events(EventQuery())
    assert [(event.type.value, event.actor) for event in events] == [
        ("issue.created", "ada"),
        ("issue.updated", "bob"),
        ("issue.labeled", "bob"),
        ("issue.unlabeled", "root"),
        ("issue.labeled", "ada"),
        ("comment.created", "ada"),
        ("comment.updated", "ada"),
        ("comment.deleted", "ada"),
        ("issue.unlabeled", "bob"),
        ("issue.deleted", "ada"),
    ]


class StoreOf01:
    """A store written for 0.1: the five issue methods, none of which takes `actor`."""

    def __init__(self) -> None:
        self._store = InMemoryIssueStore()

    async def create(self, data: IssueCreate, *, reporter: str | None = None) -> IssueOut:
        return await self._store.create(data, reporter=reporter)

    async def get(self, issue_id: str) -> IssueOut:
        return await self._store.get(issue_id)

    async def list(self, query: IssueQuery) -> IssuePage:
        return await self._store.list(query)

    async def update(
        self,
        issue_id: str,
        changes: IssueUpdate,
        *,
        expected_version: int | None = None,
        actor: str | None = None,
    ) -> IssueOut:
        return await self._store.update(
            issue_id, changes, expected_version=expected_version, actor=actor
        )

    async def delete(self, issue_id: str, *, expected_version: int | None = None) -> None:
        await self._store.delete(issue_id, expected_version=expected_version)


async def test_a_store_without_an_event_log_is_not_given_an_actor() -> None:
    app = FastAPI()
    app.include_router(make_issue_router(StoreOf01(), auth_dependency=header_user))
    async with client_for(app) as client:
        issue = (
            await client.post(
                ISSUES, json={"title": "Crash", "description": "On save"}, headers=ADA
            )
        ).json()
        assert (await client.delete(f"{ISSUES}/{issue['id']}", headers=ADA)).status_code == 204
        assert (await client.get(f"{ISSUES}/{issue['id']}", headers=ADA)).status_code == 404
