"""Hostile and odd input to the issue routes: always a clear 4xx, never a 500, nothing stored."""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from fastapi_issues import (
    InMemoryIssueStore,
    IssueStore,
    JSONFileIssueStore,
    StorageError,
    make_comment_router,
    make_issue_router,
    make_label_router,
)
from tests.conftest import POSTGRES_URL_VARIABLE

pytestmark = pytest.mark.anyio

BASE = "/api/v1/issues"
NEW = {"title": "Issue 1", "description": "This is a test issue", "priority": "medium"}
JSON = {"content-type": "application/json"}


@pytest.fixture(params=["memory", "json", "sqlite", "postgres"])
def store_kind(request: pytest.FixtureRequest) -> str:
    if request.param == "postgres":
        request.getfixturevalue("postgres_url")  # skips, or fails in CI, without a server
    return str(request.param)


@pytest.fixture
async def store(store_kind: str, tmp_path: Path) -> AsyncIterator[IssueStore]:
    if store_kind == "memory":
        yield InMemoryIssueStore()
        return
    if store_kind == "json":
        json_store = JSONFileIssueStore(tmp_path / "issues.json")
        yield json_store
        json_store.close()
        return
    from fastapi_issues.storage.sql import SQLIssueStore

    schema = None
    if store_kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'issues.db'}"
    else:
        url, schema = os.environ[POSTGRES_URL_VARIABLE], f"test_{uuid.uuid4().hex[:16]}"
    sql_store = SQLIssueStore(url, schema=schema)
    await sql_store.create_schema()
    yield sql_store
    if schema is not None:
        await drop_schema(schema)
    await sql_store.aclose()


async def drop_schema(schema: str) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(os.environ[POSTGRES_URL_VARIABLE])
    try:
        async with engine.begin() as conn:
            await conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await engine.dispose()


@pytest.fixture
async def client(store: IssueStore) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    app.include_router(make_issue_router(store))
    # Exceptions become 500 responses, as a real server sends them, instead of being raised.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


async def created(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.post(BASE, json=NEW)
    assert response.status_code == 201
    return response.json()  # type: ignore[no-any-return]


async def count(client: httpx.AsyncClient) -> int:
    return int((await client.get(BASE)).headers["X-Total-Count"])


def messages(response: httpx.Response) -> str:
    return " ".join(error["msg"] for error in response.json()["detail"])


# -- JSON that parses in Python but must not be acted on -----------------------------------

AMBIGUOUS_BODIES = {
    "duplicate key": ('{"title": "Abc", "title": "Def", "description": "Hello"}', "Duplicate key"),
    "duplicate unknown key": (
        '{"title": "Abc", "description": "Hello", "x": 1, "x": 2}',
        "Duplicate key 'x'",
    ),
    "duplicate nested key": (
        '{"title": "Abc", "description": "Hello", "x": {"a": 1, "a": 2}}',
        "Duplicate",
    ),
    "NaN": ('{"title": "Abc", "description": "Hello", "priority": NaN}', "NaN is not"),
    "Infinity": ('{"title": "Abc", "description": "Hello", "x": -Infinity}', "-Infinity is not"),
    "lone high surrogate": ('{"title": "\\ud800Abc", "description": "Hello"}', "lone surrogate"),
    "lone low surrogate in an unknown field": (
        '{"title": "Abc", "description": "Hello", "x": ["\\udfff"]}',
        "lone surrogate",
    ),
    "lone surrogate in a key": (
        '{"title": "Abc", "description": "Hello", "\\udc80": 1}',
        "lone surrogate",
    ),
    "surrogate duplicate key": ('{"\\ud800": 1, "\\ud800": 2}', "Duplicate key '\\ud800'"),
}


@pytest.mark.parametrize("case", sorted(AMBIGUOUS_BODIES))
async def test_ambiguous_json_is_refused_on_create(client: httpx.AsyncClient, case: str) -> None:
    body, message = AMBIGUOUS_BODIES[case]
    response = await client.post(BASE, content=body, headers=JSON)
    assert response.status_code == 422, response.text
    assert message in messages(response)
    assert response.json()["detail"][0]["loc"] == ["body"]
    assert await count(client) == 0


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
@pytest.mark.parametrize(
    "body",
    [
        '{"title": "Abc", "title": "Def"}',
        '{"title": "\\udbffAbc"}',
        '{"priority": Infinity}',
    ],
)
async def test_ambiguous_json_is_refused_on_update(
    client: httpx.AsyncClient, method: str, body: str
) -> None:
    issue = await created(client)
    response = await client.request(method, f"{BASE}/{issue['id']}", content=body, headers=JSON)
    assert response.status_code == 422, response.text
    after = (await client.get(f"{BASE}/{issue['id']}")).json()
    assert after == issue


async def test_paired_surrogate_escapes_are_ordinary_text(client: httpx.AsyncClient) -> None:
    body = '{"title": "Bug \\ud83d\\ude00", "description": "Hello"}'
    response = await client.post(BASE, content=body, headers=JSON)
    assert response.status_code == 201
    assert response.json()["title"] == "Bug \U0001f600"


@pytest.mark.parametrize(
    "body",
    [
        b'{"title": "\xff\xfe\xfd", "description": "Hello"}',  # not UTF-8
        b'{"title": ' + b"[" * 100_000 + b"]" * 100_000 + b', "description": "Hello"}',
        b'{"title": "Abc", "description": "Hello", "x": 1' + b"0" * 5000 + b"}",  # huge int
    ],
    ids=["not-utf8", "nested-100000-deep", "5000-digit-number"],
)
async def test_unparseable_bodies_get_400(client: httpx.AsyncClient, body: bytes) -> None:
    response = await client.post(BASE, content=body, headers=JSON)
    assert response.status_code == 400
    assert response.json() == {"detail": "There was an error parsing the body"}
    assert await count(client) == 0


async def test_nesting_within_reason_is_only_a_validation_error(client: httpx.AsyncClient) -> None:
    body = {**NEW, "title": json.loads("[" * 500 + "]" * 500)}
    response = await client.post(BASE, json=body)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "title"]


# -- odd but valid text survives exactly ----------------------------------------------------


@pytest.mark.parametrize(
    "title",
    [
        "Mixed \u200fRTL\u200e mark",
        "Emoji \U0001f41b\U0001f525 and ZWJ \U0001f468\u200d\U0001f4bb",
        "Combining e\u0301 and \ufeffBOM",
        "\u0645\u0631\u062d\u0628\u0627 Arabic",
    ],
)
async def test_odd_unicode_round_trips_intact(client: httpx.AsyncClient, title: str) -> None:
    issue = (await client.post(BASE, json={**NEW, "title": title})).json()
    assert issue["title"] == title
    assert (await client.get(f"{BASE}/{issue['id']}")).json()["title"] == title
    found = (await client.get(BASE, params={"q": title[-6:]})).json()
    assert [i["id"] for i in found] == [issue["id"]]


# -- titles: something visible, no control character, nothing that reorders the text ------

INVISIBLE_TITLES = [
    "   ",
    "\t\n\r",
    " \u00a0 ",
    "\u3000\u3000\u3000",
    "\u200b\u200c\u200d",
    "\u200e\u200f\u200e",
    "\u2060\ufeff\u00ad",
    "\u2800\u2800\u2800",
    "\u3164\u3164\u3164",
]
BIDI_TITLES = [
    f"Login {control}fails"
    for control in [*map(chr, range(0x202A, 0x202F)), *map(chr, range(0x2066, 0x206A))]
]
# C0 and C1 controls beside visible text: terminal escapes, line breaks, tabs, DEL, NEL.
CONTROL_TITLES = [
    "Login \x1b[31mfails\x1b[0m",
    "Login fails\nFAKE: admin logged in",
    "Login\rfails",
    "Login\tfails",
    "Login\x07fails",
    "Login\x7ffails",
    "Login \x85 fails",
    "Login \x9b31m fails",
]
VISIBLE_TITLES = [
    " Login fails ",
    "Mixed \u200fRTL\u200e mark",
    "\u0645\u0631\u062d",
    "\U0001f41b\U0001f41b\U0001f41b",
]
BAD_USERNAMES = ["a\x00b", "ada lovelace", "ada\u200e", "\u202eada", "a\u2066b", "a\u200bb", ""]


@pytest.mark.parametrize("title", [*INVISIBLE_TITLES, *BIDI_TITLES, *CONTROL_TITLES, "Ends\n"])
async def test_invisible_titles_and_control_characters_are_refused(
    client: httpx.AsyncClient, title: str
) -> None:
    response = await client.post(BASE, json={**NEW, "title": title})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "title"]
    assert await count(client) == 0
    issue = await created(client)
    edited = await client.patch(f"{BASE}/{issue['id']}", json={"title": title})
    assert edited.status_code == 422
    assert (await client.get(f"{BASE}/{issue['id']}")).json()["title"] == NEW["title"]


async def test_descriptions_keep_line_breaks_and_tabs(client: httpx.AsyncClient) -> None:
    text = "Steps:\n\t1. open\r\n\t2. click"
    issue = (await client.post(BASE, json={**NEW, "description": text})).json()
    assert (await client.get(f"{BASE}/{issue['id']}")).json()["description"] == text


@pytest.mark.parametrize("title", VISIBLE_TITLES)
async def test_titles_with_visible_text_keep_their_spaces_and_marks(
    client: httpx.AsyncClient, title: str
) -> None:
    issue = (await client.post(BASE, json={**NEW, "title": title})).json()
    assert (await client.get(f"{BASE}/{issue['id']}")).json()["title"] == title


@pytest.mark.parametrize("name", BAD_USERNAMES)
async def test_odd_assignee_names_are_refused(client: httpx.AsyncClient, name: str) -> None:
    response = await client.post(BASE, json={**NEW, "assignees": [name]})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "assignees", 0]
    assert await count(client) == 0
    issue = await created(client)
    edited = await client.patch(f"{BASE}/{issue['id']}", json={"assignees": ["ada", name]})
    assert edited.status_code == 422
    assert (await client.get(f"{BASE}/{issue['id']}")).json()["assignees"] == []


# -- NUL ----------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["title", "description"])
async def test_nul_in_text_is_refused(client: httpx.AsyncClient, field: str) -> None:
    response = await client.post(BASE, json={**NEW, field: "Hello\x00world"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", field]
    assert await count(client) == 0
    issue = await created(client)
    response = await client.patch(f"{BASE}/{issue['id']}", json={field: "Hello\x00world"})
    assert response.status_code == 422


@pytest.fixture
async def tracker(store: IssueStore) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    app.include_router(make_issue_router(store))
    app.include_router(make_label_router(store))
    app.include_router(make_comment_router(store))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


@pytest.mark.parametrize("text", ["a\x00b", "a\ud800b"], ids=["NUL", "lone surrogate"])
async def test_unstorable_text_is_refused_in_every_field(
    tracker: httpx.AsyncClient, text: str
) -> None:
    """Every text field of issues, labels and comments answers 422 and stores nothing."""
    issue = await created(tracker)
    url = f"{BASE}/{issue['id']}"
    assert (await tracker.post("/api/v1/labels", json={"name": "bug"})).status_code == 201
    note = (await tracker.post(f"{url}/comments", json={"body": "Me too."})).json()
    writes = [
        ("POST", BASE, {**NEW, "title": f"Abc {text}"}),
        ("POST", BASE, {**NEW, "description": f"Hello {text}"}),
        ("POST", BASE, {**NEW, "assignees": [text]}),
        ("PATCH", url, {"title": f"Abc {text}"}),
        ("PATCH", url, {"description": f"Hello {text}"}),
        ("PUT", url, {"assignees": [text]}),
        ("POST", "/api/v1/labels", {"name": text}),
        ("POST", "/api/v1/labels", {"name": "ui", "description": text}),
        ("PATCH", "/api/v1/labels/bug", {"name": text}),
        ("PATCH", "/api/v1/labels/bug", {"description": text}),
        ("PUT", f"{url}/labels", {"labels": [text]}),
        ("POST", f"{url}/labels", {"labels": [text]}),
        ("POST", f"{url}/comments", {"body": text}),
        ("PATCH", f"{url}/comments/{note['id']}", {"body": text}),
    ]
    for method, path, body in writes:
        # json.dumps writes the lone surrogate as the escape `\ud800`, as a client would.
        content = json.dumps(body).encode()
        response = await tracker.request(method, path, content=content, headers=JSON)
        assert response.status_code == 422, (method, path, body, response.text)
    assert (await tracker.get(url)).json() == issue | {"comment_count": 1}
    assert [label["name"] for label in (await tracker.get("/api/v1/labels")).json()] == ["bug"]
    assert (await tracker.get("/api/v1/labels/bug")).json()["description"] == ""
    comments = (await tracker.get(f"{url}/comments")).json()
    assert [c["body"] for c in comments] == ["Me too."]
    assert await count(tracker) == 1


@pytest.mark.parametrize(
    ("url", "where"),
    [
        (f"{BASE}?q=a%00b", ["query", "q"]),
        (f"{BASE}?reporter=%00", ["query", "reporter"]),
        (f"{BASE}/abc%00def", ["path", "issue_id"]),
    ],
)
async def test_nul_in_query_and_path_is_refused(
    client: httpx.AsyncClient, url: str, where: list[str]
) -> None:
    response = await client.get(url)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == where


# -- caps on query and path values --------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
async def test_very_long_ids_are_refused(client: httpx.AsyncClient, method: str) -> None:
    response = await client.request(method, f"{BASE}/{'a' * 5000}", json={"title": "Abcd"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "string_too_long"


async def test_id_at_the_cap_is_just_not_found(client: httpx.AsyncClient) -> None:
    assert (await client.get(f"{BASE}/{'a' * 100}")).status_code == 404


async def test_odd_bytes_in_ids_are_not_found(client: httpx.AsyncClient) -> None:
    for raw in ("%ED%A0%80", "%FF", "%E2%80%AE", "..%2F..%2Fetc%2Fpasswd"):
        assert (await client.get(f"{BASE}/{raw}")).status_code == 404, raw


@pytest.mark.parametrize(
    "query",
    [
        "q=" + "a" * 201,
        "reporter=" + "a" * 101,
        "status=open&" * 11,
        "priority=low&" * 11,
        "page=1000001",
        "limit=101",
        "limit=0",
        "created_since=1700000000",
        "updated_since=0.5",
        "updated_since=2024-01-01T" + "0" * 100,
        "sort=id",
        "direction=sideways",
    ],
)
async def test_query_values_have_caps(client: httpx.AsyncClient, query: str) -> None:
    response = await client.get(f"{BASE}?{query}")
    assert response.status_code == 422, query


async def test_values_at_the_caps_are_accepted(client: httpx.AsyncClient) -> None:
    query = "&".join(
        ["q=" + "a" * 200, "reporter=" + "a" * 100, *["status=open"] * 10, "page=1000000"]
    )
    response = await client.get(f"{BASE}?{query}&limit=100&updated_since=2024-01-01T00:00:00Z")
    assert response.status_code == 200
    assert response.json() == []


async def test_iso_dates_still_filter(client: httpx.AsyncClient) -> None:
    issue = await created(client)
    for since in ("2000-01-01", "2000-01-01T00:00:00", "2000-01-01T00:00:00+02:00"):
        listed = (await client.get(BASE, params={"created_since": since})).json()
        assert [i["id"] for i in listed] == [issue["id"]], since
    assert (await client.get(BASE, params={"updated_since": "2999-01-01T00:00:00Z"})).json() == []


# -- methods ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("OPTIONS", BASE, "GET, HEAD, POST"),
        ("PUT", BASE, "GET, HEAD, POST"),
        ("DELETE", BASE, "GET, HEAD, POST"),
        ("TRACE", BASE, "GET, HEAD, POST"),
        ("OPTIONS", f"{BASE}/some-id", "GET, HEAD, PUT, PATCH, DELETE"),
        ("POST", f"{BASE}/some-id", "GET, HEAD, PUT, PATCH, DELETE"),
    ],
)
async def test_405_names_every_method_the_path_serves(
    client: httpx.AsyncClient, method: str, path: str, allow: str
) -> None:
    response = await client.request(method, path)
    assert response.status_code == 405
    assert response.headers["Allow"] == allow
    assert response.json() == {"detail": "Method Not Allowed"}


async def test_methods_of_excluded_operations_are_left_to_the_host() -> None:
    app = FastAPI()
    app.include_router(make_issue_router(InMemoryIssueStore(), exclude={"delete"}))

    @app.delete(BASE + "/{issue_id}")
    async def archive(issue_id: str) -> dict[str, str]:
        return {"archived": issue_id}

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as client:
        assert (await client.delete(f"{BASE}/x")).json() == {"archived": "x"}
        response = await client.options(f"{BASE}/x")
        assert response.status_code == 405
        assert response.headers["Allow"] == "GET, HEAD, PUT, PATCH"


# -- what OpenAPI documents ---------------------------------------------------------------


def test_body_routes_document_400_413_and_422() -> None:
    app = FastAPI()
    app.include_router(make_issue_router(InMemoryIssueStore()))
    paths = app.openapi()["paths"]
    for path, method in [
        (BASE, "post"),
        (BASE + "/{issue_id}", "put"),
        (BASE + "/{issue_id}", "patch"),
    ]:
        assert {"400", "413", "422"} <= set(paths[path][method]["responses"]), (path, method)
    assert "413" not in paths[BASE]["get"]["responses"]
    assert set(paths[BASE]) == {"get", "post"}  # the 405 routes stay out of the schema
    properties = app.openapi()["components"]["schemas"]["IssueCreate"]["properties"]
    assert properties["description"]["pattern"] == "^[^\\x00]*$"


def test_the_schema_states_the_title_and_username_rules() -> None:
    # What a client validating against the OpenAPI schema accepts, the server accepts.
    app = FastAPI()
    app.include_router(make_issue_router(InMemoryIssueStore()))
    properties = app.openapi()["components"]["schemas"]["IssueCreate"]["properties"]
    title = re.compile(properties["title"]["pattern"])
    username = re.compile(properties["assignees"]["items"]["pattern"])
    for text in INVISIBLE_TITLES + BIDI_TITLES + CONTROL_TITLES:
        assert title.search(text) is None, repr(text)
    for text in VISIBLE_TITLES:
        assert title.search(text) is not None, repr(text)
    for name in BAD_USERNAMES:
        assert username.search(name) is None, repr(name)
    assert username.search("ada.lovelace@example") is not None


# -- server-owned fields and store faults --------------------------------------------------


async def test_clients_cannot_set_server_owned_fields(client: httpx.AsyncClient) -> None:
    forged = {
        "id": "mine",
        "status": "closed",
        "version": 99,
        "reporter": "admin",
        "created_at": "2000-01-01T00:00:00Z",
        "updated_at": "2000-01-01T00:00:00Z",
    }
    issue = (await client.post(BASE, json={**NEW, **forged})).json()
    assert not any(issue[k] == v for k, v in forged.items()), issue
    patched = (await client.patch(f"{BASE}/{issue['id']}", json=forged)).json()
    assert patched["id"] == issue["id"]
    assert patched["status"] == "closed"  # status is the one field an update may set
    assert patched["reporter"] is None
    assert patched["version"] == issue["version"] + 1
    assert patched["created_at"] == issue["created_at"]
    assert not patched["updated_at"].startswith("2000")


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
async def test_an_edit_naming_no_known_field_is_422(client: httpx.AsyncClient, method: str) -> None:
    issue = (await client.post(BASE, json=NEW)).json()
    url = f"{BASE}/{issue['id']}"
    typo = await client.request(method, url, json={"stauts": "closed", "prioirty": "high"})
    assert typo.status_code == 422, typo.text
    [error] = typo.json()["detail"]
    assert error["type"] == "no_known_field"
    assert error["loc"] == ["body"]
    assert "unknown 'prioirty', 'stauts'" in error["msg"]
    assert (
        "known fields are assignees, description, due_date, priority, state_reason, status, title"
        in (error["msg"])
    )
    assert (await client.get(url)).json() == issue
    # Unknown fields beside a known one are ignored, as documented; `{}` changes nothing.
    beside = await client.request(method, url, json={"stauts": "x", "status": "closed"})
    assert beside.status_code == 200
    assert beside.json()["status"] == "closed"
    empty = await client.request(method, url, json={})
    assert empty.status_code == 200
    assert empty.json() == beside.json()


def test_the_schema_states_that_an_edit_names_a_known_field() -> None:
    app = FastAPI()
    app.include_router(make_issue_router(InMemoryIssueStore()))
    schema = app.openapi()["components"]["schemas"]["IssueUpdate"]
    alternatives = schema["anyOf"]
    assert {"maxProperties": 0} in alternatives
    assert sorted(a["required"][0] for a in alternatives if "required" in a) == sorted(
        schema["properties"]
    )


class BrokenStore(InMemoryIssueStore):
    async def list(self, query: Any) -> Any:
        raise StorageError("cannot open /srv/secret/issues.json: permission denied")

    async def create(self, data: Any, *, reporter: str | None = None) -> Any:
        raise StorageError("database password=hunter2 rejected")


async def test_store_failures_are_503_without_details(caplog: pytest.LogCaptureFixture) -> None:
    app = FastAPI()
    app.include_router(make_issue_router(BrokenStore()))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as client:
        for response in (await client.get(BASE), await client.post(BASE, json=NEW)):
            assert response.status_code == 503
            assert response.json() == {"detail": "Issue store unavailable"}
    assert "/srv/secret" in caplog.text
    assert "hunter2" in caplog.text
