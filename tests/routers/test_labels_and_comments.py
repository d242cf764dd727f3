"""What the issue router gained for collaboration: assignees, closing, label and assignee
filters, and ETags that follow labels and comments."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Header, HTTPException

from fastapi_issues import (
    CommentCreate,
    InMemoryIssueStore,
    LabelCreate,
    LabelUpdate,
    make_issue_router,
)

pytestmark = pytest.mark.anyio

BASE = "/api/v1/issues"
NEW = {"title": "Issue 1", "description": "This is a test issue"}
KNOWN_USERS = {"ada", "bob", "cy"}


async def user_exists(username: str) -> bool:
    return username in KNOWN_USERS


async def header_user(x_user: str = Header(default="")) -> str:
    if not x_user:
        raise HTTPException(401, "Not authenticated")
    return x_user


def client_for(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


def app_with(store: InMemoryIssueStore | None = None, **kwargs: Any) -> FastAPI:
    app = FastAPI()
    app.include_router(make_issue_router(store or InMemoryIssueStore(), **kwargs))
    return app


async def create(client: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    response = await client.post(BASE, json={**NEW, **fields}, headers={"X-User": "ada"})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


# -- assignees -----------------------------------------------------------------------------


async def test_new_issues_show_the_collaboration_fields() -> None:
    async with client_for(app_with()) as client:
        issue = await create(client)
        assert issue["labels"] == []
        assert issue["assignees"] == []
        assert issue["comment_count"] == 0
        assert issue["closed_at"] is None
        assert issue["closed_by"] is None
        assert issue["state_reason"] is None


async def test_assignees_on_create_and_update() -> None:
    async with client_for(app_with()) as client:
        issue = await create(client, assignees=["cy", "ada"])
        assert issue["assignees"] == ["ada", "cy"]
        url = f"{BASE}/{issue['id']}"
        updated = await client.patch(url, json={"assignees": ["bob"]})
        assert updated.status_code == 200
        assert updated.json()["assignees"] == ["bob"]
        assert updated.json()["version"] == 2
        cleared = await client.patch(url, json={"assignees": []})
        assert cleared.json()["assignees"] == []


@pytest.mark.parametrize(
    "assignees",
    [["ada", "ada"], [f"user{n}" for n in range(11)], ["has space"], [""], "ada", None],
)
async def test_bad_assignees_are_422(assignees: Any) -> None:
    async with client_for(app_with()) as client:
        response = await client.post(BASE, json={**NEW, "assignees": assignees})
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"][:2] == ["body", "assignees"]
        issue = await create(client)
        patched = await client.patch(f"{BASE}/{issue['id']}", json={"assignees": assignees})
        assert patched.status_code == 422
        assert (await client.get(BASE)).headers["X-Total-Count"] == "1"


async def test_unknown_users_cannot_be_assigned() -> None:
    async with client_for(app_with(user_exists=user_exists)) as client:
        response = await client.post(BASE, json={**NEW, "assignees": ["ada", "mallory", "zed"]})
        assert response.status_code == 422
        errors = response.json()["detail"]
        assert [e["loc"] for e in errors] == [["body", "assignees", 1], ["body", "assignees", 2]]
        assert "mallory" in errors[0]["msg"]
        assert (await client.get(BASE)).json() == []
        issue = await create(client, assignees=["ada"])
        url = f"{BASE}/{issue['id']}"
        refused = await client.patch(url, json={"assignees": ["ada", "eve"]})
        assert refused.status_code == 422
        assert refused.json()["detail"][0]["loc"] == ["body", "assignees", 1]
        assert (await client.get(url)).json()["assignees"] == ["ada"]


async def test_users_assigned_before_they_went_stay_assignable() -> None:
    store = InMemoryIssueStore()
    async with client_for(app_with(store, user_exists=user_exists)) as client:
        issue = await create(client, assignees=["ada", "cy"])
        KNOWN_USERS.discard("cy")
        try:
            kept = await client.patch(f"{BASE}/{issue['id']}", json={"assignees": ["bob", "cy"]})
        finally:
            KNOWN_USERS.add("cy")
        assert kept.status_code == 200
        assert kept.json()["assignees"] == ["bob", "cy"]


async def test_filter_by_assignee() -> None:
    async with client_for(app_with()) as client:
        ada = await create(client, assignees=["ada"])
        nobody = await create(client)
        both = await create(client, assignees=["ada", "bob"])

        async def ids(assignee: str) -> list[str]:
            response = await client.get(BASE, params={"assignee": assignee})
            assert response.status_code == 200
            assert response.headers["X-Total-Count"] == str(len(response.json()))
            return [i["id"] for i in response.json()]

        assert await ids("ada") == [ada["id"], both["id"]]
        assert await ids("bob") == [both["id"]]
        assert await ids("none") == [nobody["id"]]
        assert await ids("*") == [ada["id"], both["id"]]
        assert (await client.get(BASE, params={"assignee": ""})).status_code == 422


# -- closing -------------------------------------------------------------------------------


async def test_closing_records_who_when_and_why() -> None:
    async with client_for(app_with(auth_dependency=header_user)) as client:
        issue = await create(client)
        url = f"{BASE}/{issue['id']}"
        closed = await client.patch(url, json={"status": "closed"}, headers={"X-User": "bob"})
        assert closed.status_code == 200
        body = closed.json()
        assert body["closed_by"] == "bob"
        assert body["closed_at"] == body["updated_at"]
        assert body["state_reason"] == "completed"
        duplicate = await client.patch(
            url, json={"state_reason": "duplicate"}, headers={"X-User": "cy"}
        )
        assert duplicate.json()["state_reason"] == "duplicate"
        assert duplicate.json()["closed_by"] == "bob"
        reopened = await client.put(url, json={"status": "open"}, headers={"X-User": "ada"})
        assert reopened.json()["closed_at"] is None
        assert reopened.json()["closed_by"] is None
        assert reopened.json()["state_reason"] is None


async def test_closing_with_a_reason_without_auth() -> None:
    async with client_for(app_with()) as client:
        issue = await create(client)
        closed = await client.patch(
            f"{BASE}/{issue['id']}", json={"status": "closed", "state_reason": "not_planned"}
        )
        assert closed.json()["state_reason"] == "not_planned"
        assert closed.json()["closed_by"] is None


@pytest.mark.parametrize(
    "body",
    [{"status": "closed", "state_reason": "wontfix"}, {"status": "closed", "state_reason": None}],
)
async def test_bad_state_reasons_are_422(body: dict[str, Any]) -> None:
    async with client_for(app_with()) as client:
        issue = await create(client)
        url = f"{BASE}/{issue['id']}"
        response = await client.patch(url, json=body)
        assert response.status_code == 422, response.text
        assert response.json()["detail"][0]["loc"] == ["body", "state_reason"]
        assert (await client.get(url)).json() == issue


@pytest.mark.parametrize(
    "body", [{"state_reason": "duplicate"}, {"status": "open", "state_reason": "completed"}]
)
async def test_a_reason_for_an_issue_left_open_is_a_409(body: dict[str, Any]) -> None:
    # Well formed, but at odds with the issue's state: a conflict, not a malformed body.
    async with client_for(app_with()) as client:
        issue = await create(client)
        url = f"{BASE}/{issue['id']}"
        response = await client.patch(url, json=body)
        assert response.status_code == 409, response.text
        assert response.json() == {"detail": "state_reason can only be set on a closed issue"}
        assert (await client.get(url)).json() == issue


# -- filters and ETags that depend on labels and comments ----------------------------------


async def test_filter_by_labels() -> None:
    store = InMemoryIssueStore()
    for name in ("bug", "UI"):
        await store.create_label(LabelCreate(name=name))
    async with client_for(app_with(store)) as client:
        bug = await create(client)
        both = await create(client)
        await create(client)
        await store.set_issue_labels(bug["id"], ["bug"])
        await store.set_issue_labels(both["id"], ["bug", "ui"])

        async def ids(labels: str) -> list[str]:
            response = await client.get(BASE, params={"labels": labels})
            assert response.status_code == 200
            return [i["id"] for i in response.json()]

        assert await ids("BUG") == [bug["id"], both["id"]]
        assert await ids("bug, ui") == [both["id"]]
        assert await ids("bug,nope") == []
        assert await ids(",") == [i["id"] for i in (await client.get(BASE)).json()]
        listed = (await client.get(BASE, params={"labels": "ui"})).json()
        assert listed[0]["labels"] == ["bug", "UI"]
        assert (await client.get(BASE, params={"labels": "x" * 1001})).status_code == 422


async def test_etag_follows_comments_and_label_renames_but_if_match_only_versions() -> None:
    store = InMemoryIssueStore()
    await store.create_label(LabelCreate(name="bug"))
    async with client_for(app_with(store)) as client:
        issue = await create(client)
        url = f"{BASE}/{issue['id']}"
        plain = (await client.get(url)).headers["ETag"]
        assert plain == '"v1"'
        await store.create_comment(issue["id"], CommentCreate(body="First!"))
        commented = await client.get(url, headers={"If-None-Match": plain})
        assert commented.status_code == 200
        assert commented.json()["comment_count"] == 1
        tag = commented.headers["ETag"]
        assert tag.startswith('"v1-')
        assert (await client.get(url, headers={"If-None-Match": tag})).status_code == 304
        await store.add_issue_labels(issue["id"], ["bug"])
        labelled = (await client.get(url)).headers["ETag"]
        await store.update_label("bug", LabelUpdate(name="defect"))
        renamed = await client.get(url, headers={"If-None-Match": labelled})
        assert renamed.status_code == 200
        assert renamed.json()["labels"] == ["defect"]
        # A comment does not make an edit based on the version conflict with it.
        await store.create_comment(issue["id"], CommentCreate(body="Second"))
        edit = await client.patch(url, json={"title": "Edited"}, headers={"If-Match": labelled})
        assert edit.status_code == 200
        stale = await client.patch(url, json={"title": "Again"}, headers={"If-Match": labelled})
        assert stale.status_code == 412
