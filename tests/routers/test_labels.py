"""The label routes: label definitions and the labels on each issue."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI, Header, HTTPException

from fastapi_issues import (
    InMemoryIssueStore,
    IssueOut,
    JSONFileIssueStore,
    LabelCreate,
    make_issue_router,
    make_label_router,
)
from tests.heads import assert_head_like_get

pytestmark = pytest.mark.anyio

ISSUES = "/api/v1/issues"
LABELS = "/api/v1/labels"
NEW = {"title": "Issue 1", "description": "This is a test issue"}


def make_app(store: Any | None = None, **kwargs: Any) -> FastAPI:
    store = store or InMemoryIssueStore()
    issue_kwargs = {k: v for k, v in kwargs.items() if k in ("auth_dependency", "policy")}
    app = FastAPI()
    app.include_router(make_issue_router(store, **issue_kwargs))
    app.include_router(make_label_router(store, **kwargs))
    return app


def client_for(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(make_app()) as c:
        yield c


async def new_label(client: httpx.AsyncClient, name: str, **fields: Any) -> dict[str, Any]:
    response = await client.post(LABELS, json={"name": name, **fields})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def new_issue(client: httpx.AsyncClient, **headers: str) -> dict[str, Any]:
    response = await client.post(ISSUES, json=NEW, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


# -- label definitions ---------------------------------------------------------------------


async def test_create_and_get_a_label(client: httpx.AsyncClient) -> None:
    response = await client.post(
        LABELS, json={"name": "Needs Triage", "color": "#D73A4A", "description": "New"}
    )
    assert response.status_code == 201
    label = response.json()
    assert {k: label[k] for k in ("name", "color", "description")} == {
        "name": "Needs Triage",
        "color": "d73a4a",
        "description": "New",
    }
    assert response.headers["Location"] == "http://test/api/v1/labels/Needs%20Triage"
    assert (await client.get(response.headers["Location"])).json() == label
    assert (await client.get(f"{LABELS}/needs triage")).json() == label
    plain = await new_label(client, "docs")
    assert plain["color"] == "ededed"
    assert plain["description"] == ""


@pytest.mark.parametrize("name", ["50% done", "why?", "C#", "naïve", "a+b&c=d"])
async def test_location_escapes_the_name(client: httpx.AsyncClient, name: str) -> None:
    response = await client.post(LABELS, json={"name": name})
    assert response.status_code == 201
    assert (await client.get(response.headers["Location"])).json()["name"] == name


async def test_label_names_with_slashes(client: httpx.AsyncClient) -> None:
    response = await client.post(LABELS, json={"name": "area/ui"})
    assert response.status_code == 201
    assert (await client.get(response.headers["Location"])).json()["name"] == "area/ui"
    assert (await client.get(f"{LABELS}/Area%2FUI")).json()["name"] == "area/ui"
    renamed = await client.patch(f"{LABELS}/area/ui", json={"name": "area/frontend"})
    assert renamed.json()["name"] == "area/frontend"
    assert (await client.delete(f"{LABELS}/area/frontend")).status_code == 204


async def test_duplicate_names_are_409(client: httpx.AsyncClient) -> None:
    await new_label(client, "bug")
    response = await client.post(LABELS, json={"name": "BUG"})
    assert response.status_code == 409
    assert response.json() == {"detail": "A label named 'BUG' already exists"}
    await new_label(client, "defect")
    clash = await client.patch(f"{LABELS}/defect", json={"name": "Bug"})
    assert clash.status_code == 409


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": " padded"}, "name"),
        ({"name": "padded "}, "name"),
        ({"name": "nel\u0085"}, "name"),
        ({"name": "a,b"}, "name"),
        ({"name": "tab\there"}, "name"),
        ({"name": "x" * 51}, "name"),
        ({"name": "ok", "color": "red"}, "color"),
        ({"name": "ok", "color": "#12345"}, "color"),
        ({"name": "ok", "description": "x" * 201}, "description"),
        ({"color": "ffffff"}, "name"),
    ],
)
async def test_bad_labels_are_422(
    client: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    response = await client.post(LABELS, json=body)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", field]
    assert (await client.get(LABELS)).json() == []


async def test_list_labels_sorted_and_paged(client: httpx.AsyncClient) -> None:
    for name in ["beta", "Alpha", "gamma"]:
        await new_label(client, name)
    everything = await client.get(LABELS)
    assert [label["name"] for label in everything.json()] == ["Alpha", "beta", "gamma"]
    assert everything.headers["X-Total-Count"] == "3"
    page = await client.get(LABELS, params={"page": 2, "limit": 2})
    assert [label["name"] for label in page.json()] == ["gamma"]
    links = httpx.Response(200, headers={"Link": page.headers["Link"]}).links
    assert "page=1" in links["prev"]["url"]
    assert "next" not in links
    assert (await client.get(LABELS, params={"limit": 101})).status_code == 422


async def test_update_and_delete_labels(client: httpx.AsyncClient) -> None:
    await new_label(client, "bug")
    changed = await client.patch(f"{LABELS}/BUG", json={"color": "00FF00", "name": "Bug"})
    assert changed.status_code == 200
    assert (changed.json()["name"], changed.json()["color"]) == ("Bug", "00ff00")
    assert (await client.patch(f"{LABELS}/bug", json={"name": None})).status_code == 422
    assert (await client.patch(f"{LABELS}/nope", json={"color": "000000"})).status_code == 404
    assert (await client.delete(f"{LABELS}/bug")).status_code == 204
    missing = await client.get(f"{LABELS}/bug")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "Label not found"}
    assert (await client.delete(f"{LABELS}/bug")).status_code == 404


# -- labels on issues ----------------------------------------------------------------------


async def test_set_add_list_and_remove_issue_labels(client: httpx.AsyncClient) -> None:
    for name in ["bug", "UI", "docs"]:
        await new_label(client, name, color="112233")
    issue = await new_issue(client)
    url = f"{ISSUES}/{issue['id']}/labels"
    set_ = await client.put(url, json={"labels": ["ui", "bug"]})
    assert set_.status_code == 200
    assert set_.json()["labels"] == ["bug", "UI"]
    assert set_.json()["version"] == 2
    assert set_.headers["ETag"].startswith('"v2-')
    added = await client.post(url, json={"labels": ["Docs", "bug"]})
    assert added.json()["labels"] == ["bug", "docs", "UI"]
    listed = await client.get(url)
    assert [(label["name"], label["color"]) for label in listed.json()] == [
        ("bug", "112233"),
        ("docs", "112233"),
        ("UI", "112233"),
    ]
    removed = await client.delete(f"{url}/UI")
    assert removed.status_code == 200
    assert removed.json()["labels"] == ["bug", "docs"]
    again = await client.delete(f"{url}/ui")
    assert again.json()["version"] == removed.json()["version"]
    shown = (await client.get(f"{ISSUES}/{issue['id']}")).json()
    assert shown == again.json()
    filtered = await client.get(ISSUES, params={"labels": "DOCS,bug"})
    assert [i["id"] for i in filtered.json()] == [issue["id"]]


async def test_issue_label_errors(client: httpx.AsyncClient) -> None:
    await new_label(client, "bug")
    issue = await new_issue(client)
    url = f"{ISSUES}/{issue['id']}/labels"
    # Well-formed names the tracker has no label for: a conflict with its state.
    unknown = await client.put(url, json={"labels": ["bug", "nope", "nada"]})
    assert unknown.status_code == 409
    assert unknown.json() == {"detail": "No label named 'nope', 'nada'; create it first"}
    assert (await client.post(url, json={"labels": ["nope"]})).status_code == 409
    assert (await client.post(url, json={"labels": "bug"})).status_code == 422
    assert (await client.post(url, json={"labels": ["a,b"]})).status_code == 422
    assert (await client.post(url, json={})).status_code == 422
    too_many = await client.put(url, json={"labels": [f"l{n}" for n in range(21)]})
    assert too_many.status_code == 422
    assert (await client.delete(f"{url}/nope")).json() == {"detail": "Label not found"}
    for method in ("GET", "PUT", "POST"):
        response = await client.request(method, f"{ISSUES}/missing/labels", json={"labels": []})
        assert response.status_code == 404, method
        assert response.json() == {"detail": "Issue not found"}
    assert (await client.delete(f"{ISSUES}/missing/labels/bug")).status_code == 404
    assert (await client.get(f"{ISSUES}/{issue['id']}")).json() == issue


async def test_twenty_one_labels_are_refused(client: httpx.AsyncClient) -> None:
    names = [f"label-{n:02}" for n in range(21)]
    for name in names:
        await new_label(client, name)
    issue = await new_issue(client)
    url = f"{ISSUES}/{issue['id']}/labels"
    assert (await client.put(url, json={"labels": names[:20]})).status_code == 200
    refused = await client.post(url, json={"labels": names[20:]})
    assert refused.status_code == 409
    assert refused.json() == {"detail": "An issue can carry at most 20 labels"}


async def test_issue_label_changes_honour_if_match(client: httpx.AsyncClient) -> None:
    await new_label(client, "bug")
    issue = await new_issue(client)
    url = f"{ISSUES}/{issue['id']}/labels"
    await client.patch(f"{ISSUES}/{issue['id']}", json={"title": "Changed"})
    stale = await client.post(url, json={"labels": ["bug"]}, headers={"If-Match": '"v1"'})
    assert stale.status_code == 412
    fresh = await client.post(url, json={"labels": ["bug"]}, headers={"If-Match": '"v2"'})
    assert fresh.status_code == 200
    tag = fresh.headers["ETag"]
    removed = await client.delete(f"{url}/bug", headers={"If-Match": tag})
    assert removed.status_code == 200
    assert (await client.delete(f"{url}/bug", headers={"If-Match": tag})).status_code == 412
    bad = await client.put(url, json={"labels": ["bug"]}, headers={"If-Match": "garbage"})
    assert bad.status_code == 400
    assert "quoted entity tags" in bad.json()["detail"]
    assert (await client.get(url)).json() == []


async def test_renamed_and_deleted_labels_follow_on_issues(client: httpx.AsyncClient) -> None:
    await new_label(client, "bug")
    issue = await new_issue(client)
    await client.put(f"{ISSUES}/{issue['id']}/labels", json={"labels": ["bug"]})
    await client.patch(f"{LABELS}/bug", json={"name": "defect"})
    assert (await client.get(f"{ISSUES}/{issue['id']}")).json()["labels"] == ["defect"]
    await client.delete(f"{LABELS}/defect")
    assert (await client.get(f"{ISSUES}/{issue['id']}")).json()["labels"] == []


async def test_concurrent_label_edits_over_http_lose_nothing(tmp_path: Path) -> None:
    store = JSONFileIssueStore(tmp_path / "issues.json")
    names = [f"label-{n:02}" for n in range(20)]
    async with client_for(make_app(store)) as client:
        for name in names:
            await new_label(client, name)
        issue = await new_issue(client)
        url = f"{ISSUES}/{issue['id']}/labels"
        await client.put(url, json={"labels": names[:10]})
        responses = await asyncio.gather(
            *(client.post(url, json={"labels": [name]}) for name in names[10:]),
            *(client.delete(f"{url}/{name}") for name in names[:5]),
        )
        assert {r.status_code for r in responses} == {200}
        final = (await client.get(f"{ISSUES}/{issue['id']}")).json()
        assert final["labels"] == names[5:]
        assert final["version"] == 2 + 15
    reopened = JSONFileIssueStore(tmp_path / "issues.json")
    assert (await reopened.get(issue["id"])).labels == names[5:]
    store.close()
    reopened.close()


# -- auth, policy and options --------------------------------------------------------------


async def header_user(x_user: str = Header(default="")) -> str:
    if not x_user:
        raise HTTPException(401, "Not authenticated")
    return x_user


def reporter_only(user: str, action: str, issue: IssueOut | None) -> bool:
    if action == "update" and issue is not None:
        return issue.reporter == user
    return not (action == "read" and issue is not None and issue.title == "Secret")


async def test_auth_guards_every_label_route() -> None:
    async with client_for(make_app(auth_dependency=header_user)) as client:
        for method, path in [
            ("GET", LABELS),
            ("POST", LABELS),
            ("GET", f"{LABELS}/x"),
            ("PATCH", f"{LABELS}/x"),
            ("DELETE", f"{LABELS}/x"),
            ("GET", f"{ISSUES}/x/labels"),
            ("PUT", f"{ISSUES}/x/labels"),
            ("POST", f"{ISSUES}/x/labels"),
            ("DELETE", f"{ISSUES}/x/labels/y"),
        ]:
            response = await client.request(method, path, json={"labels": [], "name": "x"})
            assert response.status_code == 401, (method, path)


def anyone(user: str, action: str) -> bool:
    return True


def root_only(user: str, action: str) -> bool:
    return user == "root"


async def test_policy_governs_labels_on_issues() -> None:
    app = make_app(auth_dependency=header_user, policy=reporter_only, label_policy=anyone)
    async with client_for(app) as client:
        ada = {"X-User": "ada"}
        bob = {"X-User": "bob"}
        assert (await client.post(LABELS, json={"name": "bug"}, headers=bob)).status_code == 201
        issue = await new_issue(client, **ada)
        url = f"{ISSUES}/{issue['id']}/labels"
        denied = await client.put(url, json={"labels": ["bug"]}, headers=bob)
        assert denied.status_code == 403
        assert (await client.delete(f"{url}/bug", headers=bob)).status_code == 403
        assert (await client.put(url, json={"labels": ["bug"]}, headers=ada)).status_code == 200
        assert [label["name"] for label in (await client.get(url, headers=bob)).json()] == ["bug"]
        secret = (await client.post(ISSUES, json={**NEW, "title": "Secret"}, headers=ada)).json()
        hidden = await client.get(f"{ISSUES}/{secret['id']}/labels", headers=ada)
        assert hidden.status_code == 404
        hidden_edit = await client.post(
            f"{ISSUES}/{secret['id']}/labels", json={"labels": ["bug"]}, headers=bob
        )
        assert hidden_edit.status_code == 404


# -- who may change label definitions --------------------------------------------------------

ROOT = {"X-User": "root"}
ADA = {"X-User": "ada"}
LABEL_CHANGES = {
    "create": ("POST", LABELS, {"name": "wontfix"}),
    "update": ("PATCH", f"{LABELS}/bug", {"name": "defect", "color": "000000"}),
    "delete": ("DELETE", f"{LABELS}/bug", None),
}


async def labelled_issue(client: httpx.AsyncClient) -> str:
    """An issue of ada's carrying `bug`, made by root (who may create labels)."""
    assert (await client.post(LABELS, json={"name": "bug"}, headers=ROOT)).status_code == 201
    issue = await new_issue(client, **ADA)
    url = f"{ISSUES}/{issue['id']}"
    assert (await client.put(f"{url}/labels", json={"labels": ["bug"]}, headers=ADA)).is_success
    return url


async def label_state(client: httpx.AsyncClient, issue_url: str) -> tuple[Any, Any]:
    labels = (await client.get(LABELS, headers=ADA)).json()
    return labels, (await client.get(issue_url, headers=ADA)).json()["labels"]


@pytest.mark.parametrize("action", list(LABEL_CHANGES))
async def test_label_policy_decides_who_changes_label_definitions(action: str) -> None:
    app = make_app(auth_dependency=header_user, policy=reporter_only, label_policy=root_only)
    method, path, body = LABEL_CHANGES[action]
    async with client_for(app) as client:
        issue_url = await labelled_issue(client)
        before = await label_state(client, issue_url)
        refused = await client.request(method, path, json=body, headers=ADA)
        assert refused.status_code == 403
        assert refused.json() == {"detail": f"Not allowed to {action} labels"}
        # Nothing changed: not the labels, not the issue that carries `bug`.
        assert await label_state(client, issue_url) == before
        allowed = await client.request(method, path, json=body, headers=ROOT)
        assert allowed.is_success, allowed.text
        assert await label_state(client, issue_url) != before
        # Reading stays open to everyone, labelling one's own issue too.
        assert (await client.get(LABELS, headers=ADA)).status_code == 200


async def test_an_async_label_policy_is_awaited_and_may_raise() -> None:
    async def teapot(user: str, action: str) -> bool:
        if action == "delete":
            raise HTTPException(418, "Labels are forever")
        return user == "root"

    app = make_app(auth_dependency=header_user, label_policy=teapot)
    async with client_for(app) as client:
        assert (await client.post(LABELS, json={"name": "bug"}, headers=ADA)).status_code == 403
        assert (await client.post(LABELS, json={"name": "bug"}, headers=ROOT)).status_code == 201
        assert (await client.delete(f"{LABELS}/bug", headers=ROOT)).status_code == 418


async def test_an_issue_policy_without_a_label_policy_closes_label_definitions(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Forgetting the label policy must not let every user past the issue policy.
    app = make_app(auth_dependency=header_user, policy=reporter_only)
    assert "no label_policy" in caplog.text
    store = InMemoryIssueStore()
    await store.create_label(LabelCreate(name="bug"))
    app = make_app(store, auth_dependency=header_user, policy=reporter_only)
    async with client_for(app) as client:
        for action, (method, path, body) in LABEL_CHANGES.items():
            for user in (ADA, ROOT):
                response = await client.request(method, path, json=body, headers=user)
                assert response.status_code == 403, (action, user)
        assert [label["name"] for label in (await client.get(LABELS, headers=ADA)).json()] == [
            "bug"
        ]
        # Labelling stays an edit of the issue, for the issue policy.
        issue = await new_issue(client, **ADA)
        url = f"{ISSUES}/{issue['id']}/labels"
        assert (await client.post(url, json={"labels": ["bug"]}, headers=ADA)).status_code == 200
        assert (await client.post(url, json={"labels": ["bug"]}, headers=ROOT)).status_code == 403


async def test_without_any_policy_every_user_changes_label_definitions() -> None:
    # Nothing to get past: without an issue policy every user may change every issue.
    async with client_for(make_app(auth_dependency=header_user)) as client:
        assert (await client.post(LABELS, json={"name": "bug"}, headers=ADA)).status_code == 201
        assert (await client.delete(f"{LABELS}/bug", headers=ADA)).status_code == 204


def test_openapi_documents_the_label_policy_403() -> None:
    schema = make_app(auth_dependency=header_user, label_policy=root_only).openapi()
    paths = schema["paths"]
    assert "403" in paths[LABELS]["post"]["responses"]
    assert "403" in paths[LABELS + "/{label_name}"]["patch"]["responses"]
    assert "403" in paths[LABELS + "/{label_name}"]["delete"]["responses"]
    assert "403" not in paths[LABELS]["get"]["responses"]


async def test_exclude_and_dependencies() -> None:
    async def admins_only(user: str = Depends(header_user)) -> None:
        if user != "root":
            raise HTTPException(403, "Admins only")

    app = make_app(
        auth_dependency=header_user,
        exclude={"delete"},
        dependencies={"create": [Depends(admins_only)]},
    )
    async with client_for(app) as client:
        refused = await client.post(LABELS, json={"name": "bug"}, headers={"X-User": "ada"})
        assert refused.status_code == 403
        made = await client.post(LABELS, json={"name": "bug"}, headers={"X-User": "root"})
        assert made.status_code == 201
        assert (await client.delete(f"{LABELS}/bug", headers={"X-User": "root"})).status_code == 405
    with pytest.raises(ValueError, match="burn"):
        make_label_router(InMemoryIssueStore(), exclude={"burn"})  # type: ignore[arg-type]


async def test_storage_as_a_dependency() -> None:
    store = InMemoryIssueStore()

    async def get_store() -> AsyncIterator[InMemoryIssueStore]:
        yield store

    app = FastAPI()
    app.include_router(make_label_router(get_store))
    async with client_for(app) as client:
        await new_label(client, "bug")
    assert (await store.get_label("bug")).name == "bug"


def test_openapi_documents_the_label_routes() -> None:
    schema = make_app(auth_dependency=header_user, policy=reporter_only).openapi()
    ops = {
        op["operationId"]: op
        for path in schema["paths"].values()
        for op in path.values()
        if op["tags"] == ["Labels"]
    }
    assert set(ops) == {
        "list_labels",
        "create_label",
        "get_label",
        "update_label",
        "delete_label",
        "list_issue_labels",
        "set_issue_labels",
        "add_issue_labels",
        "remove_issue_label",
    }
    for op in ops.values():
        assert op["summary"]
        assert op["tags"] == ["Labels"]
        assert {"401", "503"} <= set(op["responses"])
    assert "409" in ops["create_label"]["responses"]
    assert "412" in ops["set_issue_labels"]["responses"]
    assert "404" in ops["remove_issue_label"]["responses"]
    assert "/api/v1/issues/{issue_id}/labels/{label_name}" in schema["paths"]


# -- the same hardening as the issue routes ------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("DELETE", LABELS, "GET, HEAD, POST"),
        ("PUT", f"{LABELS}/bug", "GET, HEAD, PATCH, DELETE"),
        ("PATCH", f"{ISSUES}/x/labels", "GET, HEAD, POST, PUT"),
        ("GET", f"{ISSUES}/x/labels/bug", "DELETE"),
        ("OPTIONS", LABELS, "GET, HEAD, POST"),
    ],
)
async def test_other_methods_get_405_with_a_full_allow(
    client: httpx.AsyncClient, method: str, path: str, allow: str
) -> None:
    response = await client.request(method, path)
    assert response.status_code == 405
    assert response.headers["Allow"] == allow


async def test_head_is_served_wherever_get_is(client: httpx.AsyncClient) -> None:
    await new_label(client, "bug")
    await new_label(client, "ui")
    issue = await new_issue(client)
    await client.put(f"{ISSUES}/{issue['id']}/labels", json={"labels": ["bug"]})
    listed = await assert_head_like_get(client, f"{LABELS}?limit=1")
    assert listed.headers["X-Total-Count"] == "2"
    assert 'rel="next"' in listed.headers["Link"]
    await assert_head_like_get(client, f"{LABELS}/BUG")
    await assert_head_like_get(client, f"{ISSUES}/{issue['id']}/labels")
    # Errors too: the same status for HEAD as for GET.
    await assert_head_like_get(client, f"{LABELS}/nothing")
    await assert_head_like_get(client, f"{ISSUES}/nothing/labels")
    assert (await client.get(f"{LABELS}?limit=0")).status_code == 422
    assert (await client.head(f"{LABELS}?limit=0")).status_code == 422
    # No GET there, so no HEAD either.
    refused = await client.head(f"{ISSUES}/{issue['id']}/labels/bug")
    assert (refused.status_code, refused.headers["Allow"]) == (405, "DELETE")


@pytest.mark.parametrize(
    "body",
    [
        b'{"name": "bug", "name": "ui"}',
        b'{"name": "bug", "color": NaN}',
        b'{"name": "bug\\ud800"}',
    ],
)
async def test_ambiguous_json_is_refused(client: httpx.AsyncClient, body: bytes) -> None:
    headers = {"Content-Type": "application/json"}
    response = await client.post(LABELS, content=body, headers=headers)
    assert response.status_code == 422
    issue = await new_issue(client)
    url = f"{ISSUES}/{issue['id']}/labels"
    labelled = await client.put(url, content=b'{"labels": [], "labels": ["x"]}', headers=headers)
    assert labelled.status_code == 422
    assert (await client.get(LABELS)).json() == []


async def test_nul_in_names_and_ids_is_422(client: httpx.AsyncClient) -> None:
    assert (await client.get(f"{LABELS}/a%00b")).status_code == 422
    assert (await client.get(f"{ISSUES}/a%00b/labels")).status_code == 422
    assert (await client.get(ISSUES, params={"labels": "a\x00b"})).status_code == 422
    assert (await client.get(ISSUES, params={"assignee": "a\x00b"})).status_code == 422
    assert (
        await client.post(LABELS, json={"name": "ok", "description": "a\x00"})
    ).status_code == 422


async def test_a_label_edit_naming_no_known_field_is_422(client: httpx.AsyncClient) -> None:
    label = await new_label(client, "bug")
    refused = await client.patch(f"{LABELS}/bug", json={"colour": "00ff00"})
    assert refused.status_code == 422
    [error] = refused.json()["detail"]
    assert error["type"] == "no_known_field"
    assert "unknown 'colour'; known fields are color, description, name" in error["msg"]
    assert (await client.get(f"{LABELS}/bug")).json() == label


@pytest.mark.parametrize("name", ["a\x1bb", "bug\nfix", "a\tb", "a\x7fb", "a\x85b", "a\x9bb"])
async def test_control_characters_in_label_names_are_422(
    client: httpx.AsyncClient, name: str
) -> None:
    created = await client.post(LABELS, json={"name": name})
    assert created.status_code == 422
    assert created.json()["detail"][0]["loc"] == ["body", "name"]
    await new_label(client, "bug")
    assert (await client.patch(f"{LABELS}/bug", json={"name": name})).status_code == 422
    issue = await new_issue(client)
    labelled = await client.put(f"{ISSUES}/{issue['id']}/labels", json={"labels": [name]})
    assert labelled.status_code == 422
    assert [label["name"] for label in (await client.get(LABELS)).json()] == ["bug"]
