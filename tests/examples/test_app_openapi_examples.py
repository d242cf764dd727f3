"""Every request example the OpenAPI schema documents works against the demo app.

What Swagger UI's "Try it out" sends is a body's `examples` (the first), or, for a schema
without one, a body made of its properties' examples: each is sent here, as the demo user
`johndoe` of `FASTAPI_ISSUES_DEMO=1`, and must be answered as the route documents.
"""

from __future__ import annotations

import copy
import socket
from pathlib import Path
from typing import Any

import httpx
import pytest
from examples.app import DEMO_PASSWORD, DEMO_USERNAME, create_app

from tests.servers import running

pytestmark = pytest.mark.anyio

# The order a person trying the API would follow: what a route's path needs exists by then.
ORDER = [
    ("POST", "/api/v1/labels"),
    ("POST", "/api/v1/issues"),
    ("PUT", "/api/v1/issues/{issue_id}"),
    ("PATCH", "/api/v1/issues/{issue_id}"),
    ("PATCH", "/api/v1/labels/{label_name}"),
    ("PUT", "/api/v1/issues/{issue_id}/labels"),
    ("POST", "/api/v1/issues/{issue_id}/labels"),
    ("POST", "/api/v1/issues/{issue_id}/comments"),
    ("PATCH", "/api/v1/issues/{issue_id}/comments/{comment_id}"),
    ("POST", "/api/v1/users"),
    # After every issue route, so that the hook made here has no event to deliver.
    ("POST", "/api/v1/hooks"),
    ("PATCH", "/api/v1/hooks/{hook_id}"),
    # Last: it revokes the token every request here is sent with.
    ("POST", "/users/me/password"),
]
# Without admins (the demo as the README starts it) only admins' routes are refused, and
# labelling an issue then finds no label to put on it; both are documented answers.
NOT_AN_ADMIN = {
    ("POST", "/api/v1/labels"): 403,
    ("PATCH", "/api/v1/labels/{label_name}"): 403,
    ("PUT", "/api/v1/issues/{issue_id}/labels"): 409,
    ("POST", "/api/v1/issues/{issue_id}/labels"): 409,
    ("POST", "/api/v1/users"): 403,
    ("POST", "/api/v1/hooks"): 403,
    ("PATCH", "/api/v1/hooks/{hook_id}"): 403,
}
# The documented hook URL's host, resolved as a public name would be (no DNS here).
HOOK_HOST = "ci.example.com"
HOOK_HOST_ADDRESS = "93.184.215.14"


@pytest.fixture
def hook_host_resolves(monkeypatch: pytest.MonkeyPatch) -> None:
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host != HOOK_HOST:
            return real(host, port, *args, **kwargs)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (HOOK_HOST_ADDRESS, port))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def documented_bodies(openapi: dict[str, Any], operation: dict[str, Any]) -> list[Any]:
    """The request bodies the schema shows for `operation`: its examples, and its examples
    with each property set to that property's own examples."""
    ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = openapi["components"]["schemas"][ref.rsplit("/", 1)[1]]
    examples = schema.get("examples") or [swagger_composed(schema)]
    bodies = []
    for example in examples:
        bodies.append(example)
        for name, field in schema["properties"].items():
            for value in field.get("examples", []):
                bodies.append({**copy.deepcopy(example), name: value})
    unique: list[Any] = []
    for body in bodies:
        if body not in unique:
            unique.append(body)
    return unique


@pytest.mark.usefixtures("hook_host_resolves")
@pytest.mark.parametrize("admin", [True, False], ids=["johndoe-admin", "demo-as-is"])
async def test_every_documented_request_example_works_on_the_demo(
    tmp_path: Path, admin: bool
) -> None:
    env = {
        "ISSUES_STORAGE_URL": str(tmp_path / "data" / "issues.json"),
        "FASTAPI_ISSUES_DEMO": "1",
        "FASTAPI_ISSUES_SECRET_KEY": "openapi-examples-test-key-" + "k" * 40,
        **({"FASTAPI_ISSUES_ADMINS": DEMO_USERNAME} if admin else {}),
    }
    async with running(create_app(env)) as client:
        openapi = (await client.get("/openapi.json")).json()
        with_bodies = {
            (method.upper(), path)
            for path, item in openapi["paths"].items()
            for method, operation in item.items()
            if "requestBody" in operation
            and "application/json" in operation["requestBody"]["content"]
        }
        # A new route taking JSON gets its place in ORDER, and its examples are tried.
        assert with_bodies == set(ORDER)
        login = {"username": DEMO_USERNAME, "password": DEMO_PASSWORD}
        token = (await client.post("/token", data=login)).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        names = {"issue_id": "", "label_name": "bug", "comment_id": "", "hook_id": "none"}
        sent = 0
        for method, path in ORDER:
            operation = openapi["paths"][path][method.lower()]
            refused = None if admin else NOT_AN_ADMIN.get((method, path))
            for body in documented_bodies(openapi, operation):
                url = path.format(**names)
                response = await client.request(method, url, json=body, headers=auth)
                sent += 1
                documented = str(response.status_code) in operation["responses"]
                assert documented, (method, path, body, response.text)
                if refused is None:
                    assert response.is_success, (method, path, body, response.text)
                else:
                    assert response.status_code == refused, (method, path, response.text)
                names = remember(names, path, response)
        assert sent >= len(ORDER)


def swagger_composed(schema: dict[str, Any]) -> dict[str, Any]:
    """The body Swagger UI shows for a schema without examples: each property's first
    example, or its default."""
    body = {}
    for name, field in schema["properties"].items():
        if field.get("examples"):
            body[name] = field["examples"][0]
        elif "default" in field:
            body[name] = field["default"]
    return body


def remember(names: dict[str, str], path: str, response: httpx.Response) -> dict[str, str]:
    """The ids later paths need, from what was just created."""
    if response.status_code != 201:
        return names
    created = response.json()
    if path == "/api/v1/issues":
        return {**names, "issue_id": created["id"]}
    if path.endswith("/comments"):
        return {**names, "comment_id": created["id"]}
    if path == "/api/v1/hooks":
        return {**names, "hook_id": created["id"]}
    return names
