"""Hostile JSON at `POST /register`: a 422, never a 500, and no user made."""

from __future__ import annotations

import httpx
import pytest

from fastapi_issues.auth import InMemoryUserStore, UserNotFound
from tests.auth.conftest import AppFactory

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    "body",
    [
        '{"username": "\\ud800", "password": "long enough"}',
        '{"username": "mallory", "password": "long \\udfff enough"}',
        '{"username": "mallory", "password": "long enough", "full_name": "\\ud800"}',
        '{"username": "mallory", "password": NaN}',
        '{"username": "mallory", "password": "long enough", "username": "admin"}',
    ],
)
async def test_ambiguous_json_makes_no_user(
    make_app: AppFactory, users: InMemoryUserStore, body: str
) -> None:
    transport = httpx.ASGITransport(app=make_app(registration=True), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.post(
            "/register", content=body, headers={"content-type": "application/json"}
        )
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["type"] == "json_invalid"
    for name in ("mallory", "admin"):
        with pytest.raises(UserNotFound):
            await users.get(name)


def test_body_routes_document_413(make_app: AppFactory) -> None:
    paths = make_app(registration=True).openapi()["paths"]
    assert "413" in paths["/token"]["post"]["responses"]
    assert {"400", "413"} <= set(paths["/register"]["post"]["responses"])
