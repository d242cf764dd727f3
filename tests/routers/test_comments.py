"""The comment routes: list, create, get, edit and delete the comments on an issue."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Header, HTTPException

from fastapi_issues import (
    CommentOut,
    InMemoryIssueStore,
    IssueOut,
    JSONFileIssueStore,
    author_only,
    make_comment_router,
    make_issue_router,
)
from tests.heads import assert_head_like_get

pytestmark = pytest.mark.anyio

ISSUES = "/api/v1/issues"
NEW = {"title": "Issue 1", "description": "This is a test issue"}
ADA = {"X-User": "ada"}
BOB = {"X-User": "bob"}
ROOT = {"X-User": "root"}


async def header_user(x_user: str = Header(default="")) -> str:
    if not x_user:
        raise HTTPException(401, "Not authenticated")
    return x_user


def make_app(store: Any | None = None, **kwargs: Any) -> FastAPI:
    store = store or InMemoryIssueStore()
    issue_kwargs = {k: v for k, v in kwargs.items() if k in ("auth_dependency", "policy")}
    app = FastAPI()
    app.include_router(make_issue_router(store, **issue_kwargs))
    app.include_router(make_comment_router(store, **kwargs))
    return app


def client_for(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(make_app(auth_dependency=header_user)) as c:
        yield c


async def new_issue(client: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    response = await client.post(ISSUES, json={**NEW, **fields}, headers=ADA)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def comment(
    client: httpx.AsyncClient, issue_id: str, body: str = "Me too.", headers: Any = ADA
) -> dict[str, Any]:
    response = await client.post(
        f"{ISSUES}/{issue_id}/comments", json={"body": body}, headers=headers
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def test_create_and_get_a_comment(client: httpx.AsyncClient) -> None:
    issue = await new_issue(client)
    response = await client.post(
        f"{ISSUES}/{issue['id']}/comments",
        json={"body": "Reproduced on Firefox.", "author": "mallory", "version": 7},
        headers=BOB,
    )
    assert response.status_code == 201
    body = response.json()
    assert body["author"] == "bob"
    assert body["issue_id"] == issue["id"]
    assert body["body"] == "Reproduced on Firefox."
    assert body["version"] == 1
    assert response.headers["ETag"] == '"v1"'
    location = response.headers["Location"]
    assert location == f"http://test{ISSUES}/{issue['id']}/comments/{body['id']}"
    fetched = await client.get(location, headers=ADA)
    assert fetched.json() == body
    assert fetched.headers["ETag"] == '"v1"'
    not_modified = await client.get(location, headers={**ADA, "If-None-Match": '"v1"'})
    assert not_modified.status_code == 304
    shown = (await client.get(f"{ISSUES}/{issue['id']}", headers=ADA)).json()
    assert shown["comment_count"] == 1


@pytest.mark.parametrize("body", [{"body": ""}, {"body": "   \n"}, {"body": "x" * 10_001}, {}])
async def test_bad_comments_are_422(client: httpx.AsyncClient, body: dict[str, Any]) -> None:
    issue = await new_issue(client)
    url = f"{ISSUES}/{issue['id']}/comments"
    response = await client.post(url, json=body, headers=ADA)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "body"]
    assert (await client.get(url, headers=ADA)).json() == []


async def test_unknown_issue_and_comment_are_404(client: httpx.AsyncClient) -> None:
    issue = await new_issue(client)
    for method in ("GET", "POST"):
        response = await client.request(
            method, f"{ISSUES}/missing/comments", json={"body": "Hi"}, headers=ADA
        )
        assert response.status_code == 404
        assert response.json() == {"detail": "Issue not found"}
    for method in ("GET", "PATCH", "DELETE"):
        response = await client.request(
            method, f"{ISSUES}/{issue['id']}/comments/nope", json={"body": "Hi"}, headers=ADA
        )
        assert response.status_code == 404, method
        assert response.json() == {"detail": "Comment not found"}
    other = await new_issue(client)
    note = await comment(client, other["id"])
    wrong_issue = await client.get(f"{ISSUES}/{issue['id']}/comments/{note['id']}", headers=ADA)
    assert wrong_issue.status_code == 404
    too_long = await client.get(f"{ISSUES}/{issue['id']}/comments/{'x' * 500}", headers=ADA)
    assert too_long.status_code == 422


async def test_list_pages_oldest_first_and_since(client: httpx.AsyncClient) -> None:
    issue = await new_issue(client)
    url = f"{ISSUES}/{issue['id']}/comments"
    notes = [await comment(client, issue["id"], f"Note {n}") for n in range(5)]
    page = await client.get(url, params={"page": 2, "limit": 2}, headers=ADA)
    assert [c["id"] for c in page.json()] == [notes[2]["id"], notes[3]["id"]]
    assert page.headers["X-Total-Count"] == "5"
    links = httpx.Response(200, headers={"Link": page.headers["Link"]}).links
    assert "page=3" in links["next"]["url"]
    assert "page=3" in links["last"]["url"]
    since = await client.get(url, params={"since": notes[3]["created_at"]}, headers=ADA)
    assert [c["id"] for c in since.json()] == [notes[3]["id"], notes[4]["id"]]
    assert since.headers["X-Total-Count"] == "2"
    for params in ({"since": "soon"}, {"limit": 0}, {"limit": 101}, {"page": 0}):
        assert (await client.get(url, params=params, headers=ADA)).status_code == 422


async def test_only_the_author_edits_and_deletes(client: httpx.AsyncClient) -> None:
    issue = await new_issue(client)
    note = await comment(client, issue["id"], "Frist", headers=BOB)
    url = f"{ISSUES}/{issue['id']}/comments/{note['id']}"
    denied = await client.patch(url, json={"body": "Hijacked"}, headers=ADA)
    assert denied.status_code == 403
    assert denied.json() == {"detail": "Not allowed to do that to this comment"}
    assert (await client.delete(url, headers=ADA)).status_code == 403
    edited = await client.patch(url, json={"body": "First"}, headers=BOB)
    assert edited.status_code == 200
    assert edited.json()["body"] == "First"
    assert edited.json()["version"] == 2
    assert edited.headers["ETag"] == '"v2"'
    assert (await client.patch(url, json={"body": ""}, headers=BOB)).status_code == 422
    assert (await client.delete(url, headers=BOB)).status_code == 204
    assert (await client.get(url, headers=BOB)).status_code == 404
    shown = (await client.get(f"{ISSUES}/{issue['id']}", headers=ADA)).json()
    assert shown["comment_count"] == 0


async def test_if_match_on_comment_edits(client: httpx.AsyncClient) -> None:
    issue = await new_issue(client)
    note = await comment(client, issue["id"])
    url = f"{ISSUES}/{issue['id']}/comments/{note['id']}"
    await client.patch(url, json={"body": "Second"}, headers=ADA)
    stale = await client.patch(url, json={"body": "Third"}, headers={**ADA, "If-Match": '"v1"'})
    assert stale.status_code == 412
    assert "comment has changed" in stale.json()["detail"]
    assert (await client.delete(url, headers={**ADA, "If-Match": '"v1"'})).status_code == 412
    assert (await client.get(url, headers=ADA)).json()["body"] == "Second"
    assert (await client.delete(url, headers={**ADA, "If-Match": '"v2"'})).status_code == 204


@pytest.mark.parametrize("method", ["PATCH", "DELETE"])
async def test_a_malformed_if_match_on_a_comment_is_400(
    client: httpx.AsyncClient, method: str
) -> None:
    issue = await new_issue(client)
    note = await comment(client, issue["id"])
    url = f"{ISSUES}/{issue['id']}/comments/{note['id']}"
    body = {"json": {"body": "Edited"}} if method == "PATCH" else {}
    refused = await client.request(method, url, headers={**ADA, "If-Match": "v1"}, **body)
    assert refused.status_code == 400
    assert "quoted entity tags" in refused.json()["detail"]
    assert (await client.get(url, headers=ADA)).json() == note


async def test_a_comment_policy_can_let_admins_moderate() -> None:
    def author_or_root(user: str, action: Any, issue: IssueOut, note: CommentOut | None) -> bool:
        return user == "root" or author_only(user, action, issue, note)

    app = make_app(auth_dependency=header_user, comment_policy=author_or_root)
    async with client_for(app) as client:
        issue = await new_issue(client)
        note = await comment(client, issue["id"], headers=BOB)
        url = f"{ISSUES}/{issue['id']}/comments/{note['id']}"
        assert (await client.delete(url, headers=ADA)).status_code == 403
        assert (await client.delete(url, headers=ROOT)).status_code == 204


async def test_comment_policy_can_refuse_comments_on_closed_issues() -> None:
    async def open_issues_only(
        user: str, action: Any, issue: IssueOut, note: CommentOut | None
    ) -> bool:
        return issue.status != "closed" and author_only(user, action, issue, note)

    app = make_app(auth_dependency=header_user, comment_policy=open_issues_only)
    async with client_for(app) as client:
        issue = await new_issue(client)
        await comment(client, issue["id"])
        await client.patch(f"{ISSUES}/{issue['id']}", json={"status": "closed"}, headers=ADA)
        locked = await client.post(
            f"{ISSUES}/{issue['id']}/comments", json={"body": "Late"}, headers=ADA
        )
        assert locked.status_code == 403


async def test_issue_policy_hides_comments_of_unreadable_issues() -> None:
    def own_only(user: str, action: str, issue: IssueOut | None) -> bool:
        return issue is None or issue.reporter == user

    app = make_app(auth_dependency=header_user, policy=own_only)
    async with client_for(app) as client:
        issue = await new_issue(client)
        note = await comment(client, issue["id"])
        base = f"{ISSUES}/{issue['id']}/comments"
        for method, url in [
            ("GET", base),
            ("POST", base),
            ("GET", f"{base}/{note['id']}"),
            ("PATCH", f"{base}/{note['id']}"),
            ("DELETE", f"{base}/{note['id']}"),
        ]:
            response = await client.request(method, url, json={"body": "Hi"}, headers=BOB)
            assert response.status_code == 404, (method, url)
            assert response.json() == {"detail": "Issue not found"}
        assert (await client.get(base, headers=ADA)).status_code == 200


async def test_auth_guards_every_comment_route(client: httpx.AsyncClient) -> None:
    for method, path in [
        ("GET", f"{ISSUES}/x/comments"),
        ("POST", f"{ISSUES}/x/comments"),
        ("GET", f"{ISSUES}/x/comments/y"),
        ("PATCH", f"{ISSUES}/x/comments/y"),
        ("DELETE", f"{ISSUES}/x/comments/y"),
    ]:
        response = await client.request(method, path, json={"body": "Hi"})
        assert response.status_code == 401, (method, path)


async def test_without_auth_comments_are_anonymous_and_editable() -> None:
    async with client_for(make_app()) as client:
        issue = (await client.post(ISSUES, json=NEW)).json()
        created = await client.post(f"{ISSUES}/{issue['id']}/comments", json={"body": "Hi"})
        assert created.json()["author"] is None
        url = created.headers["Location"]
        assert (await client.patch(url, json={"body": "Hello"})).status_code == 200


async def test_deleting_an_issue_deletes_its_comments(tmp_path: Path) -> None:
    store = JSONFileIssueStore(tmp_path / "issues.json")
    async with client_for(make_app(store, auth_dependency=header_user)) as client:
        issue = await new_issue(client)
        kept = await new_issue(client)
        note = await comment(client, issue["id"])
        await comment(client, kept["id"])
        assert (await client.delete(f"{ISSUES}/{issue['id']}", headers=ADA)).status_code == 204
        gone = await client.get(f"{ISSUES}/{issue['id']}/comments/{note['id']}", headers=ADA)
        assert gone.status_code == 404
        assert (
            await client.get(f"{ISSUES}/{issue['id']}/comments", headers=ADA)
        ).status_code == 404
    reopened = JSONFileIssueStore(tmp_path / "issues.json")
    assert (await reopened.list_comments(kept["id"])).total == 1
    on_disk = json.loads((tmp_path / "comments.json").read_text())["records"]
    assert [c["issue_id"] for c in on_disk] == [kept["id"]]
    store.close()
    reopened.close()


async def test_fifty_concurrent_comment_posts_all_survive(tmp_path: Path) -> None:
    store = JSONFileIssueStore(tmp_path / "issues.json")
    async with client_for(make_app(store, auth_dependency=header_user)) as client:
        issue = await new_issue(client)
        url = f"{ISSUES}/{issue['id']}/comments"
        responses = await asyncio.gather(
            *(
                client.post(url, json={"body": f"Comment {n}"}, headers={"X-User": f"u{n}"})
                for n in range(50)
            )
        )
        assert {r.status_code for r in responses} == {201}
        posted = {r.json()["id"] for r in responses}
        listed = await client.get(url, params={"limit": 100}, headers=ADA)
        assert {c["id"] for c in listed.json()} == posted
        assert listed.headers["X-Total-Count"] == "50"
        shown = (await client.get(f"{ISSUES}/{issue['id']}", headers=ADA)).json()
        assert shown["comment_count"] == 50
    reopened = JSONFileIssueStore(tmp_path / "issues.json")
    assert {c.id for c in (await reopened.list_comments(issue["id"], limit=100)).items} == posted
    store.close()
    reopened.close()


def test_openapi_documents_the_comment_routes() -> None:
    schema = make_app(auth_dependency=header_user).openapi()
    ops = {
        op["operationId"]: op
        for path in schema["paths"].values()
        for op in path.values()
        if op["tags"] == ["Comments"]
    }
    assert set(ops) == {
        "list_comments",
        "create_comment",
        "get_comment",
        "update_comment",
        "delete_comment",
    }
    for op in ops.values():
        assert op["summary"]
        assert op["tags"] == ["Comments"]
        assert {"401", "403", "404", "503"} <= set(op["responses"])
    assert "412" in ops["update_comment"]["responses"]
    assert {p["name"] for p in ops["list_comments"]["parameters"]} >= {"page", "limit", "since"}
    with pytest.raises(ValueError, match="edit"):
        make_comment_router(InMemoryIssueStore(), exclude={"edit"})  # type: ignore[arg-type]


# -- the same hardening as the issue routes ------------------------------------------------


async def test_other_methods_get_405_with_a_full_allow(client: httpx.AsyncClient) -> None:
    issue = await new_issue(client)
    base = f"{ISSUES}/{issue['id']}/comments"
    listing = await client.put(base, headers=ADA)
    assert listing.status_code == 405
    assert listing.headers["Allow"] == "GET, HEAD, POST"
    one = await client.post(f"{base}/x", headers=ADA)
    assert one.status_code == 405
    assert one.headers["Allow"] == "GET, HEAD, PATCH, DELETE"


async def test_head_is_served_wherever_get_is(client: httpx.AsyncClient) -> None:
    issue = await new_issue(client)
    base = f"{ISSUES}/{issue['id']}/comments"
    first = await comment(client, issue["id"])
    await comment(client, issue["id"], "Fixed in main.")
    listed = await assert_head_like_get(client, f"{base}?limit=1", ADA)
    assert listed.headers["X-Total-Count"] == "2"
    assert 'rel="next"' in listed.headers["Link"]
    one = await assert_head_like_get(client, f"{base}/{first['id']}", ADA)
    assert one.headers["ETag"]
    cached = {**ADA, "If-None-Match": one.headers["ETag"]}
    assert (await assert_head_like_get(client, f"{base}/{first['id']}", cached)).status_code == 304
    # Errors too: the same status for HEAD as for GET.
    assert (await assert_head_like_get(client, f"{base}/nothing", ADA)).status_code == 404
    assert (await assert_head_like_get(client, base)).status_code == 401


async def test_ambiguous_json_nul_and_odd_times_are_refused(client: httpx.AsyncClient) -> None:
    issue = await new_issue(client)
    base = f"{ISSUES}/{issue['id']}/comments"
    headers = {**ADA, "Content-Type": "application/json"}
    twice = await client.post(base, content=b'{"body": "a", "body": "b"}', headers=headers)
    assert twice.status_code == 422
    assert (await client.post(base, json={"body": "nul\x00"}, headers=ADA)).status_code == 422
    assert (await client.get(f"{base}/a%00b", headers=ADA)).status_code == 422
    assert (await client.get(base, params={"since": "1.5"}, headers=ADA)).status_code == 422
    assert (await client.get(base, headers=ADA)).json() == []


async def test_a_comment_edit_naming_no_known_field_is_422(client: httpx.AsyncClient) -> None:
    issue = await new_issue(client)
    note = await comment(client, issue["id"])
    url = f"{ISSUES}/{issue['id']}/comments/{note['id']}"
    refused = await client.patch(url, json={"text": "Edited"}, headers=ADA)
    assert refused.status_code == 422
    [error] = refused.json()["detail"]
    assert error["type"] == "no_known_field"
    assert "unknown 'text'; known fields are body" in error["msg"]
    assert (await client.get(url, headers=ADA)).json() == note
