"""`NoSecretEchoRoute`: a 422 never shows a password or a secret the client sent."""

from __future__ import annotations

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from pydantic import BaseModel, Field, SecretStr

from fastapi_issues.routers.kit import NoSecretEchoRoute

pytestmark = pytest.mark.anyio

SECRET = "do-not-show-me-0123456789"


class Body(BaseModel):
    name: str = Field(max_length=5)
    secret: SecretStr = Field(min_length=16)
    new_password: str = Field(min_length=16)


async def post(body: object = None, *, shielded: bool = True, content: str = "") -> httpx.Response:
    router = APIRouter(route_class=NoSecretEchoRoute) if shielded else APIRouter()

    @router.post("/things")
    async def make(body: Body) -> dict[str, str]:
        return {"name": body.name}

    app = FastAPI()
    app.include_router(router)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        if content:
            return await client.post("/things", content=content)
        return await client.post("/things", json=body)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"name": "ok", "secret": SECRET[:8], "new_password": SECRET}, id="secret"),
        pytest.param({"name": "ok", "secret": SECRET, "new_password": SECRET[:8]}, id="password"),
        pytest.param({"name": "ok", "secret": [SECRET], "new_password": SECRET}, id="in-a-list"),
        pytest.param([{"secret": SECRET}], id="body-a-list"),
        pytest.param(SECRET, id="body-a-string"),
    ],
)
async def test_a_422_never_shows_a_secret_or_password(body: object) -> None:
    fragment = SECRET[:8]
    # The same request on a plain route does echo it: the test can fail.
    assert fragment in (await post(body, shielded=False)).text
    answer = await post(body)
    assert answer.status_code == 422
    assert fragment not in answer.text
    assert answer.json()["detail"], "the errors are still there, without their input"


async def test_a_body_that_is_not_json_is_not_echoed() -> None:
    raw = '{"name": "ok", "secret": "' + SECRET + '"'
    assert SECRET in (await post(shielded=False, content=raw)).text
    answer = await post(content=raw)
    assert answer.status_code == 422
    assert SECRET not in answer.text


async def test_other_fields_keep_their_input() -> None:
    body = {"name": "much too long", "secret": SECRET, "new_password": SECRET}
    [error] = (await post(body)).json()["detail"]
    assert error["loc"] == ["body", "name"]
    assert error["input"] == "much too long"
    assert error["ctx"] == {"max_length": 5}
