"""The example app's event routes and its `/board` page, in process.

The board's behaviour in a browser is tests/examples/test_board.py's; the routes' own
behaviour is tests/routers/test_events*.py's. Here: that the app mounts them with its auth,
and serves the page outside its API schema.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from examples.app import BOARD_PAGE, DEMO_PASSWORD, DEMO_USERNAME, create_app
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from tests.servers import running

pytestmark = pytest.mark.anyio

SECRET_KEY = "example-app-test-key-" + "k" * 43
ISSUE = {"title": "Board test", "description": "Shown on the board"}


def settings(tmp_path: Path, **env: str) -> dict[str, str]:
    return {
        "ISSUES_STORAGE_URL": str(tmp_path / "issues.json"),
        "FASTAPI_ISSUES_SECRET_KEY": SECRET_KEY,
        **env,
    }


@pytest.mark.parametrize("auth", ["on", "off"])
async def test_the_board_is_a_static_page_outside_the_schema(tmp_path: Path, auth: str) -> None:
    async with running(create_app(settings(tmp_path, FASTAPI_ISSUES_AUTH=auth))) as client:
        # The page itself needs no login: it asks for one when the API does.
        response = await client.get("/board")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        assert response.text == BOARD_PAGE.read_text(encoding="utf-8")
        paths = (await client.get("/openapi.json")).json()["paths"]
    assert "/board" not in paths
    assert {"/api/v1/events", "/api/v1/issues/{issue_id}/events"} <= set(paths)


def test_the_board_writes_user_data_as_text_only() -> None:
    page = BOARD_PAGE.read_text(encoding="utf-8")
    assert "innerHTML" not in page.replace("never `innerHTML`", "").replace("never innerHTML", "")
    assert "insertAdjacentHTML" not in page
    assert "document.write" not in page


async def test_with_auth_on_the_events_need_a_token(tmp_path: Path) -> None:
    app = create_app(settings(tmp_path, FASTAPI_ISSUES_DEMO="1"))
    async with running(app) as client:
        assert (await client.get("/api/v1/events")).status_code == 401
        assert (await client.get("/api/v1/events/stream")).status_code == 401
        login = {"username": DEMO_USERNAME, "password": DEMO_PASSWORD}
        token = (await client.post("/token", data=login)).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        created = await client.post("/api/v1/issues", json=ISSUE, headers=headers)
        issue_id = created.json()["id"]
        feed = await client.get("/api/v1/events", headers=headers)
        assert [(e["type"], e["issue_id"], e["actor"]) for e in feed.json()] == [
            ("issue.created", issue_id, DEMO_USERNAME)
        ]
        timeline = await client.get(f"/api/v1/issues/{issue_id}/events")
        assert timeline.status_code == 401


def test_with_auth_on_the_websocket_takes_the_token_in_its_first_message(
    tmp_path: Path,
) -> None:
    app = create_app(settings(tmp_path, FASTAPI_ISSUES_DEMO="1"))
    with TestClient(app) as client:
        login = {"username": DEMO_USERNAME, "password": DEMO_PASSWORD}
        token = client.post("/token", data=login).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        issue_id = client.post("/api/v1/issues", json=ISSUE, headers=headers).json()["id"]
        with client.websocket_connect("/api/v1/events/ws") as socket:
            socket.send_json({"token": token, "after": 0})
            event = socket.receive_json()
        assert (event["type"], event["issue_id"]) == ("issue.created", issue_id)
        with client.websocket_connect("/api/v1/events/ws") as socket:
            socket.send_json({"token": "not a token", "after": 0})
            with pytest.raises(WebSocketDisconnect) as closed:
                socket.receive_json()
        assert closed.value.code == 1008
