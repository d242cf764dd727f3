"""The issue routes over HTTP: the crash course's behaviour and what the package adds."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI, Header, HTTPException

from fastapi_issues import InMemoryIssueStore, IssueOut, make_issue_router
from fastapi_issues.storage import IssueStore
from tests.heads import assert_head_like_get

pytestmark = pytest.mark.anyio

BASE = "/api/v1/issues"
NEW = {"title": "Issue 1", "description": "This is a test issue", "priority": "medium"}


def make_app(store: Any | None = None, **kwargs: Any) -> FastAPI:
    app = FastAPI()
    app.include_router(make_issue_router(store or InMemoryIssueStore(), **kwargs))
    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=make_app()), base_url="http://test"
    ) as c:
        yield c


def client_for(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def create(client: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    response = await client.post(BASE, json={**NEW, **fields})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


# -- the crash course's flow ---------------------------------------------------------------


async def test_empty_list(client: httpx.AsyncClient) -> None:
    response = await client.get(BASE)
    assert response.status_code == 200
    assert response.json() == []
    assert response.headers["X-Total-Count"] == "0"


async def test_create_sets_status_open_and_a_uuid(client: httpx.AsyncClient) -> None:
    response = await client.post(BASE, json=NEW)
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "open"
    assert body["title"] == "Issue 1"
    assert len(body["id"]) == 36
    assert response.headers["Location"] == f"http://test{BASE}/{body['id']}"
    assert (await client.get(response.headers["Location"])).json() == body


async def test_create_ignores_unknown_fields_and_server_set_ones(
    client: httpx.AsyncClient,
) -> None:
    body = await create(client, foo="bar", status="closed", id="mine", version=99, reporter="x")
    assert "foo" not in body
    assert body["status"] == "open"
    assert body["id"] != "mine"
    assert body["version"] == 1
    assert body["reporter"] is None
    stored = (await client.get(f"{BASE}/{body['id']}")).json()
    assert "foo" not in stored


async def test_priority_defaults_to_medium(client: httpx.AsyncClient) -> None:
    response = await client.post(BASE, json={"title": "Abc", "description": "Hello"})
    assert response.json()["priority"] == "medium"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": "ab", "description": "Long enough"}, "title"),
        ({"title": "x" * 101, "description": "Long enough"}, "title"),
        ({"title": "Fine", "description": "abcd"}, "description"),
        ({"title": "Fine", "description": "x" * 2001}, "description"),
        ({"title": "Fine", "description": "Long enough", "priority": "urgent"}, "priority"),
        ({"description": "Long enough"}, "title"),
        ({"title": "Fine"}, "description"),
    ],
)
async def test_create_validation_errors_are_422(
    client: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    response = await client.post(BASE, json=body)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", field]
    assert (await client.get(BASE)).json() == []


async def test_malformed_json_is_422(client: httpx.AsyncClient) -> None:
    response = await client.post(
        BASE, content=b'{"title": ', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422


async def test_get_unknown_issue_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{BASE}/1")
    assert response.status_code == 404
    assert response.json() == {"detail": "Issue not found"}


async def test_overlong_id_is_422_not_500(client: httpx.AsyncClient) -> None:
    assert (await client.get(f"{BASE}/{'x' * 500}")).status_code == 422


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
async def test_update_changes_only_what_is_sent(client: httpx.AsyncClient, method: str) -> None:
    issue = await create(client)
    response = await client.request(
        method, f"{BASE}/{issue['id']}", json={"description": "This is an updated issue"}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["description"] == "This is an updated issue"
    assert body["title"] == issue["title"]
    assert body["version"] == 2
    assert (await client.get(f"{BASE}/{issue['id']}")).json() == body


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
async def test_update_cannot_blank_or_null_a_field(client: httpx.AsyncClient, method: str) -> None:
    issue = await create(client)
    url = f"{BASE}/{issue['id']}"
    for body in ({"title": ""}, {"title": "ab"}, {"title": None}, {"status": "test"}):
        response = await client.request(method, url, json=body)
        assert response.status_code == 422, body
    assert (await client.get(url)).json() == issue


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
async def test_update_unknown_issue_is_404(client: httpx.AsyncClient, method: str) -> None:
    response = await client.request(method, f"{BASE}/nope", json={"title": "Whatever"})
    assert response.status_code == 404
    assert response.json() == {"detail": "Issue not found"}


async def test_delete(client: httpx.AsyncClient) -> None:
    issue = await create(client)
    response = await client.delete(f"{BASE}/{issue['id']}")
    assert response.status_code == 204
    assert response.content == b""
    assert (await client.get(f"{BASE}/{issue['id']}")).status_code == 404
    assert (await client.delete(f"{BASE}/{issue['id']}")).status_code == 404


# -- pagination ----------------------------------------------------------------------------


async def test_pagination_headers_and_pages(client: httpx.AsyncClient) -> None:
    ids = [(await create(client, title=f"Issue {n}"))["id"] for n in range(5)]
    response = await client.get(BASE, params={"page": 2, "limit": 2})
    assert [i["id"] for i in response.json()] == ids[2:4]
    assert response.headers["X-Total-Count"] == "5"
    links = httpx.Response(200, headers={"Link": response.headers["Link"]}).links

    def target(rel: str) -> tuple[str, dict[str, str]]:
        url = httpx.URL(links[rel]["url"])
        return f"{url.host}{url.path}", dict(url.params)

    assert target("first") == (f"test{BASE}", {"page": "1", "limit": "2"})
    assert target("prev") == (f"test{BASE}", {"page": "1", "limit": "2"})
    assert target("next") == (f"test{BASE}", {"page": "3", "limit": "2"})
    assert target("last") == (f"test{BASE}", {"page": "3", "limit": "2"})
    last = await client.get(links["last"]["url"])
    assert [i["id"] for i in last.json()] == ids[4:]
    assert "next" not in httpx.Response(200, headers={"Link": last.headers["Link"]}).links


async def test_page_past_the_end_is_empty_not_an_error(client: httpx.AsyncClient) -> None:
    await create(client)
    response = await client.get(BASE, params={"page": 7})
    assert response.status_code == 200
    assert response.json() == []
    links = httpx.Response(200, headers={"Link": response.headers["Link"]}).links
    assert links["prev"]["url"].endswith("page=1")
    assert links["last"]["url"].endswith("page=1")


async def test_links_keep_the_filters(client: httpx.AsyncClient) -> None:
    for n in range(3):
        await create(client, priority="high", title=f"Issue {n}")
    response = await client.get(BASE, params={"priority": "high", "limit": 1, "sort": "title"})
    links = httpx.Response(200, headers={"Link": response.headers["Link"]}).links
    assert "priority=high" in links["next"]["url"]
    assert "sort=title" in links["next"]["url"]


async def test_default_limit_is_20(client: httpx.AsyncClient) -> None:
    for n in range(21):
        await create(client, title=f"Issue {n}")
    assert len((await client.get(BASE)).json()) == 20


@pytest.mark.parametrize(
    "params",
    [
        {"page": 0},
        {"page": -1},
        {"page": "two"},
        {"limit": 0},
        {"limit": 101},
        {"status": "done"},
        {"priority": "urgent"},
        {"sort": "id"},
        {"direction": "up"},
        {"created_since": "yesterday"},
        {"q": ""},
        {"sort": "due"},
        {"due_before": "2024-02-30"},
        {"due_before": "next week"},
        {"due_after": "1714521600"},
        {"due_after": "2024-05-01T00:00:00Z"},
    ],
)
async def test_bad_list_parameters_are_422(
    client: httpx.AsyncClient, params: dict[str, Any]
) -> None:
    response = await client.get(BASE, params=params)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][0] == "query"


# -- list filters and sort -----------------------------------------------------------------


async def test_filters_and_sort_over_http(client: httpx.AsyncClient) -> None:
    low = await create(client, title="Banana bug", priority="low")
    high = await create(client, title="Apple crash", priority="high")
    medium = await create(client, title="Cherry glitch", priority="medium")
    await client.patch(f"{BASE}/{medium['id']}", json={"status": "closed"})

    async def ids(**params: Any) -> list[str]:
        response = await client.get(BASE, params=params)
        assert response.status_code == 200, response.text
        return [i["id"] for i in response.json()]

    assert await ids(status=["open"]) == [low["id"], high["id"]]
    assert await ids(priority=["low", "medium"]) == [low["id"], medium["id"]]
    assert await ids(q="CRASH") == [high["id"]]
    assert await ids(sort="priority", direction="desc") == [high["id"], medium["id"], low["id"]]
    assert await ids(sort="title") == [high["id"], low["id"], medium["id"]]
    since = medium["created_at"]
    assert await ids(created_since=since) == [medium["id"]]
    response = await client.get(BASE, params={"status": "open", "limit": 1})
    assert response.headers["X-Total-Count"] == "2"


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
async def test_due_date_is_set_and_cleared_by_update(
    client: httpx.AsyncClient, method: str
) -> None:
    issue = await create(client)
    assert issue["due_date"] is None
    url = f"{BASE}/{issue['id']}"
    due = await client.request(method, url, json={"due_date": "2024-02-29"})
    assert (due.status_code, due.json()["due_date"]) == (200, "2024-02-29")
    kept = await client.request(method, url, json={"title": "Renamed"})
    assert kept.json()["due_date"] == "2024-02-29"
    # Unlike the other fields, null is a value here: no due date.
    cleared = await client.request(method, url, json={"due_date": None})
    assert (cleared.status_code, cleared.json()["due_date"]) == (200, None)
    assert cleared.json()["version"] == 4
    assert (await client.get(url)).json() == cleared.json()


@pytest.mark.parametrize(
    "due_date", ["2024-02-30", "31/12/2024", "2024-05-01T00:00:00", 1714521600, "", True]
)
async def test_a_bad_due_date_is_422_naming_the_format(
    client: httpx.AsyncClient, due_date: object
) -> None:
    response = await client.post(BASE, json={**NEW, "due_date": due_date})
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "due_date"]
    assert (await client.get(BASE)).headers["X-Total-Count"] == "0"
    issue = await create(client)
    patched = await client.patch(f"{BASE}/{issue['id']}", json={"due_date": due_date})
    assert patched.status_code == 422
    await client.delete(f"{BASE}/{issue['id']}")


async def test_due_date_filters_and_sort_over_http(client: httpx.AsyncClient) -> None:
    late = await create(client, title="Late", due_date="2024-03-01")
    never = await create(client, title="Never")
    early = await create(client, title="Early", due_date="2024-02-28")
    leap = await create(client, title="Leap", due_date="2024-02-29")

    async def ids(**params: Any) -> list[str]:
        response = await client.get(BASE, params=params)
        assert response.status_code == 200, response.text
        return [i["id"] for i in response.json()]

    assert await ids(due_before="2024-02-29") == [early["id"], leap["id"]]
    assert await ids(due_after="2024-02-29") == [late["id"], leap["id"]]
    assert await ids(due_after="2024-02-29", due_before="2024-02-29") == [leap["id"]]
    assert await ids(sort="due_date") == [early["id"], leap["id"], late["id"], never["id"]]
    assert await ids(sort="due_date", direction="desc") == [
        late["id"],
        leap["id"],
        early["id"],
        never["id"],
    ]


def test_openapi_documents_due_date_and_its_filters() -> None:
    schema = make_app().openapi()
    issue = schema["components"]["schemas"]["IssueOut"]["properties"]["due_date"]
    assert {"type": "string", "format": "date"} in issue["anyOf"]
    parameters = {p["name"]: p for p in schema["paths"][BASE]["get"]["parameters"]}
    for name in ("due_before", "due_after"):
        assert parameters[name]["schema"]["anyOf"][0] == {"type": "string", "format": "date"}
        assert "without a due date never match" in parameters[name]["description"]
    sort = parameters["sort"]["schema"]
    assert "due_date" in sort["enum"]


# -- conditional requests ------------------------------------------------------------------


async def test_etag_and_if_none_match(client: httpx.AsyncClient) -> None:
    issue = await create(client)
    url = f"{BASE}/{issue['id']}"
    first = await client.get(url)
    etag = first.headers["ETag"]
    assert etag == '"v1"'
    not_modified = await client.get(url, headers={"If-None-Match": etag})
    assert not_modified.status_code == 304
    assert not_modified.headers["ETag"] == etag
    assert not_modified.content == b""
    assert (await client.get(url, headers={"If-None-Match": f"W/{etag}"})).status_code == 304
    await client.patch(url, json={"title": "Changed"})
    changed = await client.get(url, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["ETag"] == '"v2"'


async def test_head_is_served_wherever_get_is(client: httpx.AsyncClient) -> None:
    issue = await create(client)
    await create(client, priority="high")
    listed = await assert_head_like_get(client, f"{BASE}?limit=1&sort=priority")
    assert listed.headers["X-Total-Count"] == "2"
    assert 'rel="next"' in listed.headers["Link"]
    url = f"{BASE}/{issue['id']}"
    one = await assert_head_like_get(client, url)
    assert one.headers["ETag"] == '"v1"'
    cached = {"If-None-Match": one.headers["ETag"]}
    assert (await assert_head_like_get(client, url, cached)).status_code == 304
    # Errors too: the same status for HEAD as for GET.
    assert (await assert_head_like_get(client, f"{BASE}/nothing")).status_code == 404
    assert (await assert_head_like_get(client, f"{BASE}?limit=0")).status_code == 422


async def test_head_follows_auth_and_policy() -> None:
    app = make_app(auth_dependency=bearer_user, policy=owner_or_admin)
    async with client_for(app) as client:
        assert (await assert_head_like_get(client, BASE)).status_code == 401
        issue = (await client.post(BASE, json=NEW, headers=as_user("alice"))).json()
        url = f"{BASE}/{issue['id']}"
        assert (await assert_head_like_get(client, url, as_user("bob"))).status_code == 200
        assert (await assert_head_like_get(client, BASE, as_user("bob"))).status_code == 200


async def test_head_of_an_excluded_get_is_left_to_the_host() -> None:
    app = make_app(exclude={"get"})

    @app.api_route(BASE + "/{issue_id}", methods=["GET", "HEAD"])
    async def summary(issue_id: str) -> dict[str, str]:
        return {"summary": issue_id}

    async with client_for(app) as client:
        response = await client.head(f"{BASE}/x")
        assert response.status_code == 200
        assert response.headers["Content-Length"] == str(len(b'{"summary":"x"}'))


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
async def test_if_match_refuses_stale_writes(client: httpx.AsyncClient, method: str) -> None:
    issue = await create(client)
    url = f"{BASE}/{issue['id']}"
    await client.patch(url, json={"title": "Someone else"})
    body = {"json": {"title": "Mine"}} if method != "DELETE" else {}
    stale = await client.request(method, url, headers={"If-Match": '"v1"'}, **body)
    assert stale.status_code == 412
    assert "changed" in stale.json()["detail"]
    assert (await client.get(url)).json()["title"] == "Someone else"
    fresh = await client.request(method, url, headers={"If-Match": '"v2"'}, **body)
    assert fresh.status_code in (200, 204)


async def test_if_match_star_and_lists(client: httpx.AsyncClient) -> None:
    issue = await create(client)
    url = f"{BASE}/{issue['id']}"
    ok = await client.patch(url, json={"title": "Star"}, headers={"If-Match": "*"})
    assert ok.status_code == 200
    ok = await client.patch(url, json={"title": "Listed"}, headers={"If-Match": '"v1", "v2"'})
    assert ok.status_code == 200
    assert ok.headers["ETag"] == '"v3"'
    weak = await client.patch(url, json={"title": "Weak"}, headers={"If-Match": 'W/"v3"'})
    assert weak.status_code == 412
    assert "weak tag" in weak.json()["detail"]


MALFORMED_IF_MATCH = [
    "garbage",
    "v1",
    '"v1',
    '"v1" junk',
    '*, "v1"',
    "W/v1",
    " ",
    '"v 1"',
]


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize("header", MALFORMED_IF_MATCH)
async def test_a_malformed_if_match_is_400_not_412(
    client: httpx.AsyncClient, method: str, header: str
) -> None:
    issue = await create(client)
    url = f"{BASE}/{issue['id']}"
    body = {"json": {"title": "Mine"}} if method != "DELETE" else {}
    refused = await client.request(method, url, headers={"If-Match": header}, **body)
    assert refused.status_code == 400, refused.text
    assert 'quoted entity tags, such as "v3"' in refused.json()["detail"]
    assert (await client.get(url)).json() == issue
    # Malformed is said before the store is asked: no 404 for an issue that is not there.
    missing = await client.request(method, f"{BASE}/nope", headers={"If-Match": header}, **body)
    assert missing.status_code == 400


async def test_if_match_lists_follow_rfc_9110(client: httpx.AsyncClient) -> None:
    issue = await create(client)
    url = f"{BASE}/{issue['id']}"
    # Well-formed tags that are not ours, and empty list elements, are not errors.
    for header in ['"someone-else\'s,tag"', '"v1x"', '""', '"v2", , W/"v1"']:
        stale = await client.patch(url, json={"title": "Nope"}, headers={"If-Match": header})
        assert stale.status_code == 412, (header, stale.text)
    listed = await client.patch(url, json={"title": "Yes"}, headers={"If-Match": ' ,"v1" ,'})
    assert listed.status_code == 200
    # Several If-Match fields make one list (RFC 9110 5.3).
    fields = httpx.Headers([("If-Match", '"v9"'), ("If-Match", '"v2"')])
    assert (await client.patch(url, json={"title": "Two"}, headers=fields)).status_code == 200


async def test_concurrent_if_match_updates_one_wins(client: httpx.AsyncClient) -> None:
    import asyncio

    issue = await create(client)
    url = f"{BASE}/{issue['id']}"
    responses = await asyncio.gather(
        *(
            client.patch(url, json={"title": f"Edit {n}"}, headers={"If-Match": '"v1"'})
            for n in range(2)
        )
    )
    assert sorted(r.status_code for r in responses) == [200, 412]


# -- auth, policy and per-operation options ------------------------------------------------


class User:
    def __init__(self, username: str, admin: bool = False) -> None:
        self.username = username
        self.admin = admin


USERS = {"alice-token": User("alice"), "bob-token": User("bob"), "root-token": User("root", True)}


async def bearer_user(authorization: str = Header(default="")) -> User:
    user = USERS.get(authorization.removeprefix("Bearer "))
    if user is None:
        raise HTTPException(401, "Not authenticated", headers={"WWW-Authenticate": "Bearer"})
    return user


def as_user(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {name}-token"}


async def test_auth_dependency_guards_every_route_and_sets_the_reporter() -> None:
    async with client_for(make_app(auth_dependency=bearer_user)) as client:
        for method, path in [
            ("GET", BASE),
            ("POST", BASE),
            ("GET", f"{BASE}/x"),
            ("PUT", f"{BASE}/x"),
            ("PATCH", f"{BASE}/x"),
            ("DELETE", f"{BASE}/x"),
        ]:
            response = await client.request(method, path, json=NEW)
            assert response.status_code == 401, (method, path)
            assert response.headers["WWW-Authenticate"] == "Bearer"
        created = await client.post(BASE, json=NEW, headers=as_user("alice"))
        assert created.status_code == 201
        assert created.json()["reporter"] == "alice"
        mine = await client.get(BASE, params={"reporter": "alice"}, headers=as_user("bob"))
        assert [i["id"] for i in mine.json()] == [created.json()["id"]]


def owner_or_admin(user: User, action: str, issue: IssueOut | None) -> bool:
    if action in ("update", "delete") and issue is not None:
        return user.admin or issue.reporter == user.username
    return True


async def test_policy_denies_with_403() -> None:
    app = make_app(auth_dependency=bearer_user, policy=owner_or_admin)
    async with client_for(app) as client:
        issue = (await client.post(BASE, json=NEW, headers=as_user("alice"))).json()
        url = f"{BASE}/{issue['id']}"
        denied = await client.patch(url, json={"title": "Bob was here"}, headers=as_user("bob"))
        assert denied.status_code == 403
        assert (await client.delete(url, headers=as_user("bob"))).status_code == 403
        assert (await client.get(url, headers=as_user("bob"))).json()["title"] == NEW["title"]
        own = await client.patch(url, json={"title": "Alice edit"}, headers=as_user("alice"))
        assert own.status_code == 200
        assert (await client.delete(url, headers=as_user("root"))).status_code == 204


async def test_policy_hides_what_a_user_may_not_read() -> None:
    async def own_only(user: User, action: str, issue: IssueOut | None) -> bool:
        return issue is None or issue.reporter == user.username

    app = make_app(auth_dependency=bearer_user, policy=own_only)
    async with client_for(app) as client:
        issue = (await client.post(BASE, json=NEW, headers=as_user("alice"))).json()
        url = f"{BASE}/{issue['id']}"
        for method in ("GET", "PATCH", "DELETE"):
            response = await client.request(
                method, url, json={"title": "Hmm"}, headers=as_user("bob")
            )
            assert response.status_code == 404, method
            assert response.json() == {"detail": "Issue not found"}
        assert (await client.get(url, headers=as_user("alice"))).status_code == 200


async def test_exclude_switches_routes_off() -> None:
    async with client_for(make_app(exclude={"delete", "update"})) as client:
        issue = await create(client)
        url = f"{BASE}/{issue['id']}"
        assert (await client.delete(url)).status_code == 405
        assert (await client.put(url, json={"title": "Abc"})).status_code == 405
        assert (await client.patch(url, json={"title": "Abc"})).status_code == 200


def test_unknown_operation_names_are_refused() -> None:
    with pytest.raises(ValueError, match="remove"):
        make_issue_router(InMemoryIssueStore(), exclude={"remove"})  # type: ignore[arg-type]


async def test_per_operation_dependencies() -> None:
    async def admins_only(user: User = Depends(bearer_user)) -> None:
        if not user.admin:
            raise HTTPException(403, "Admins only")

    app = make_app(auth_dependency=bearer_user, dependencies={"delete": [Depends(admins_only)]})
    async with client_for(app) as client:
        issue = (await client.post(BASE, json=NEW, headers=as_user("alice"))).json()
        url = f"{BASE}/{issue['id']}"
        assert (await client.delete(url, headers=as_user("alice"))).status_code == 403
        assert (await client.delete(url, headers=as_user("root"))).status_code == 204


# -- storage as a dependency, mounting twice, OpenAPI -----------------------------------------


async def test_storage_dependency_and_overrides() -> None:
    real = InMemoryIssueStore()
    fake = InMemoryIssueStore()
    opened: list[str] = []

    async def get_store() -> AsyncIterator[IssueStore]:
        opened.append("open")
        yield real

    app = make_app(get_store)
    async with client_for(app) as client:
        await create(client)
        assert opened == ["open"]
        assert (await real.list(__import__("fastapi_issues").IssueQuery())).total == 1
        app.dependency_overrides[get_store] = lambda: fake
        await create(client)
        assert (await client.get(BASE)).headers["X-Total-Count"] == "1"
    assert opened == ["open"]


async def test_mounting_twice_with_different_stores() -> None:
    app = FastAPI()
    app.include_router(make_issue_router(InMemoryIssueStore()))
    app.include_router(
        make_issue_router(InMemoryIssueStore(), prefix="/archive/issues", name="archive")
    )
    async with client_for(app) as client:
        created = await client.post("/archive/issues", json=NEW)
        assert created.headers["Location"].startswith("http://test/archive/issues/")
        assert (await client.get("/archive/issues")).headers["X-Total-Count"] == "1"
        assert (await client.get(BASE)).headers["X-Total-Count"] == "0"
    operation_ids = [
        op["operationId"] for path in app.openapi()["paths"].values() for op in path.values()
    ]
    assert len(operation_ids) == len(set(operation_ids)) == 12
    assert {"delete_issue", "archive_delete_issue"} <= set(operation_ids)


def test_openapi_documents_the_routes() -> None:
    schema = make_app(auth_dependency=bearer_user, policy=owner_or_admin).openapi()
    paths = schema["paths"]
    ops: dict[str, Callable[[], Any]] = {}
    for path in paths.values():
        for op in path.values():
            ops[op["operationId"]] = op
    assert set(ops) == {
        "list_issues",
        "create_issue",
        "get_issue",
        "replace_issue",
        "update_issue",
        "delete_issue",
    }
    for op in ops.values():
        assert op["summary"]
        assert op["tags"] == ["Issues"]
        assert {"401", "403", "503"} <= set(op["responses"])
    for name in ("get_issue", "replace_issue", "update_issue", "delete_issue"):
        assert "404" in ops[name]["responses"]
    assert "412" in ops["update_issue"]["responses"]
    assert "304" in ops["get_issue"]["responses"]
    assert "422" in ops["create_issue"]["responses"]
    assert ops["create_issue"]["responses"]["201"]["content"]["application/json"]["schema"]
    names = {p["name"] for p in ops["list_issues"]["parameters"]}
    assert {"page", "limit", "status", "priority", "q", "sort", "direction"} <= names


def test_openapi_without_auth_has_no_401() -> None:
    schema = make_app().openapi()
    for path in schema["paths"].values():
        for op in path.values():
            assert "401" not in op["responses"]
