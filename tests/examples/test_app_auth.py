"""The example app with auth: the crash course's "Test Authentication" steps, end to end."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Mapping
from pathlib import Path

import anyio.to_thread
import httpx
import pytest
from examples.app import create_app

from fastapi_issues.auth import AuthSettingsError
from fastapi_issues.cli import main
from tests.servers import running

pytestmark = pytest.mark.anyio

ISSUE = {"title": "Login fails", "description": "On every browser", "priority": "high"}
SECRET_KEY = "example-app-test-key-" + "k" * 43


def env_for(tmp_path: Path, **env: str) -> dict[str, str]:
    return {"ISSUES_STORAGE_URL": str(tmp_path / "data" / "issues.json"), **env}


async def swagger_login(client: httpx.AsyncClient, username: str, password: str) -> str:
    # What Swagger UI's Authorize dialog sends.
    response = await client.post(
        "/token",
        data={"grant_type": "password", "username": username, "password": password},
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


async def issue_routes(client: httpx.AsyncClient, headers: Mapping[str, str]) -> list[int]:
    """Call every issue route once; return the status codes."""
    codes = []
    created = await client.post("/api/v1/issues", json=ISSUE, headers=headers)
    codes.append(created.status_code)
    issue_id = created.json()["id"] if created.status_code == 201 else "some-id"
    url = f"/api/v1/issues/{issue_id}"
    for response in (
        await client.get("/api/v1/issues", headers=headers),
        await client.get(url, headers=headers),
        await client.put(url, json={"status": "in_progress"}, headers=headers),
        await client.patch(url, json={"priority": "low"}, headers=headers),
        await client.delete(url, headers=headers),
    ):
        codes.append(response.status_code)
    return codes


async def test_the_crash_course_authentication_steps(tmp_path: Path) -> None:
    app = create_app(env_for(tmp_path, FASTAPI_ISSUES_DEMO="1"))
    async with running(app) as client:
        # Steps 1-2: the docs page and its Authorize button, which posts to /token.
        assert (await client.get("/docs")).status_code == 200
        schema = (await client.get("/openapi.json")).json()
        flows = schema["components"]["securitySchemes"]["OAuth2PasswordBearer"]["flows"]
        assert flows["password"]["tokenUrl"] == "token"
        assert "/token" in schema["paths"]

        # Before authorizing, every issue route is refused.
        assert await issue_routes(client, {}) == [401] * 6
        response = await client.get("/api/v1/issues")
        assert response.headers["WWW-Authenticate"] == "Bearer"

        # Steps 3-4: johndoe / secret.
        token = await swagger_login(client, "johndoe", "secret")
        headers = {"Authorization": f"Bearer {token}"}

        # Step 5: the protected routes work.
        assert await issue_routes(client, headers) == [201, 200, 200, 200, 200, 204]
        created = await client.post("/api/v1/issues", json=ISSUE, headers=headers)
        assert created.json()["reporter"] == "johndoe"
        me = await client.get("/users/me", headers=headers)
        assert me.json() == {
            "username": "johndoe",
            "email": "johndoe@example.com",
            "full_name": "John Doe",
            "disabled": False,
            "is_admin": False,
        }
        assert "argon2" not in me.text

    [johndoe] = json.loads((tmp_path / "data" / "users.json").read_text())["records"]
    assert johndoe["hashed_password"].startswith("$argon2id$")


async def test_the_demo_user_exists_only_when_asked_for(tmp_path: Path) -> None:
    async with running(create_app(env_for(tmp_path))) as client:
        response = await client.post("/token", data={"username": "johndoe", "password": "secret"})
        assert response.status_code == 401
    assert not (tmp_path / "data" / "users.json").exists()


async def test_the_demo_user_is_made_once_and_kept(tmp_path: Path) -> None:
    env = env_for(tmp_path, FASTAPI_ISSUES_DEMO="1")
    async with running(create_app(env)):
        pass
    users = tmp_path / "data" / "users.json"
    first = users.read_text()
    async with running(create_app(env)) as client:
        await swagger_login(client, "johndoe", "secret")
    assert users.read_text() == first


async def test_a_user_made_with_the_cli_logs_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = env_for(tmp_path, FASTAPI_ISSUES_SECRET_KEY=SECRET_KEY)
    monkeypatch.setattr(sys, "stdin", io.StringIO("a long passphrase\n"))

    async def cli(*args: str) -> int:
        # In a thread: the command runs its own event loop, as it would in its own process.
        return await anyio.to_thread.run_sync(
            main, [*args, "--storage-url", env["ISSUES_STORAGE_URL"]]
        )

    assert await cli("user", "add", "ada", "--password-stdin") == 0
    async with running(create_app(env)) as client:
        token = await swagger_login(client, "ada", "a long passphrase")
        headers = {"Authorization": f"Bearer {token}"}
        created = await client.post("/api/v1/issues", json=ISSUE, headers=headers)
        assert created.json()["reporter"] == "ada"
        # Disabled from the CLI while the app runs: refused at once, the token revoked.
        assert await cli("user", "disable", "ada") == 0
        refused = await client.get("/api/v1/issues", headers=headers)
        assert refused.status_code == 401
        assert refused.json() == {"detail": "Could not validate credentials"}
        login = {"username": "ada", "password": "a long passphrase"}
        inactive = await client.post("/token", data=login)
        assert inactive.json() == {"detail": "Inactive user"}


async def test_tokens_work_across_workers_only_with_a_configured_secret(tmp_path: Path) -> None:
    shared = env_for(tmp_path, FASTAPI_ISSUES_DEMO="1", FASTAPI_ISSUES_SECRET_KEY=SECRET_KEY)
    async with running(create_app(shared)) as one, running(create_app(shared)) as two:
        token = await swagger_login(one, "johndoe", "secret")
        headers = {"Authorization": f"Bearer {token}"}
        assert (await two.get("/api/v1/issues", headers=headers)).status_code == 200
    random = env_for(tmp_path, FASTAPI_ISSUES_DEMO="1")
    async with running(create_app(random)) as one, running(create_app(random)) as two:
        token = await swagger_login(one, "johndoe", "secret")
        headers = {"Authorization": f"Bearer {token}"}
        assert (await one.get("/api/v1/issues", headers=headers)).status_code == 200
        assert (await two.get("/api/v1/issues", headers=headers)).status_code == 401


def test_without_a_secret_the_app_warns_what_that_means(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="fastapi_issues.auth"):
        create_app(env_for(tmp_path))
    assert "random secret for this process" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="fastapi_issues.auth"):
        create_app(env_for(tmp_path, FASTAPI_ISSUES_SECRET_KEY=SECRET_KEY))
    assert "random secret" not in caplog.text


def test_a_short_secret_stops_the_app(tmp_path: Path) -> None:
    with pytest.raises(AuthSettingsError, match=r"RFC 7518"):
        create_app(env_for(tmp_path, FASTAPI_ISSUES_SECRET_KEY="changeme"))


def test_a_bad_auth_switch_stops_the_app(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="FASTAPI_ISSUES_AUTH must be on or off"):
        create_app(env_for(tmp_path, FASTAPI_ISSUES_AUTH="maybe"))


async def test_auth_off_serves_issues_to_anyone(tmp_path: Path) -> None:
    app = create_app(env_for(tmp_path, FASTAPI_ISSUES_AUTH="off"))
    async with running(app) as client:
        assert await issue_routes(client, {}) == [201, 200, 200, 200, 200, 204]
        created = await client.post("/api/v1/issues", json=ISSUE)
        assert created.json()["reporter"] is None
        assert (
            await client.post("/token", data={"username": "a", "password": "b"})
        ).status_code == 404
    assert "securitySchemes" not in app.openapi().get("components", {})


async def test_registration_can_be_switched_on(tmp_path: Path) -> None:
    off = create_app(env_for(tmp_path))
    assert "/register" not in off.openapi()["paths"]
    app = create_app(env_for(tmp_path, FASTAPI_ISSUES_REGISTRATION="on"))
    async with running(app) as client:
        created = await client.post(
            "/register", json={"username": "grace", "password": "a long passphrase"}
        )
        assert created.status_code == 201
        await swagger_login(client, "grace", "a long passphrase")


async def test_only_the_reporter_or_an_admin_may_edit_or_delete(tmp_path: Path) -> None:
    env = env_for(
        tmp_path,
        FASTAPI_ISSUES_REGISTRATION="on",
        FASTAPI_ISSUES_ADMINS="root",
        FASTAPI_ISSUES_SECRET_KEY=SECRET_KEY,
    )
    async with running(create_app(env)) as client:
        headers = {}
        for name in ("ada", "bob", "root"):
            body = {"username": name, "password": "a long passphrase"}
            assert (await client.post("/register", json=body)).status_code == 201
            token = await swagger_login(client, name, "a long passphrase")
            headers[name] = {"Authorization": f"Bearer {token}"}
        issue = (await client.post("/api/v1/issues", json=ISSUE, headers=headers["ada"])).json()
        url = f"/api/v1/issues/{issue['id']}"
        assert (await client.get(url, headers=headers["bob"])).status_code == 200
        denied = await client.patch(url, json={"title": "Bob's now"}, headers=headers["bob"])
        assert denied.status_code == 403
        assert (await client.delete(url, headers=headers["bob"])).status_code == 403
        own = await client.patch(url, json={"title": "Ada's edit"}, headers=headers["ada"])
        assert own.status_code == 200
        assert (await client.delete(url, headers=headers["root"])).status_code == 204


async def test_assigning_a_name_nobody_has_is_refused_and_changes_nothing(
    tmp_path: Path,
) -> None:
    env = env_for(tmp_path, FASTAPI_ISSUES_REGISTRATION="on", FASTAPI_ISSUES_SECRET_KEY=SECRET_KEY)
    async with running(create_app(env)) as client:
        body = {"username": "ada", "password": "a long passphrase"}
        assert (await client.post("/register", json=body)).status_code == 201
        token = await swagger_login(client, "ada", "a long passphrase")
        headers = {"Authorization": f"Bearer {token}"}

        refused = await client.post(
            "/api/v1/issues", json={**ISSUE, "assignees": ["nosuchuser"]}, headers=headers
        )
        assert refused.status_code == 422
        [error] = refused.json()["detail"]
        assert error["loc"] == ["body", "assignees", 0]
        assert "nosuchuser" in error["msg"]
        listed = await client.get("/api/v1/issues", headers=headers)
        assert listed.headers["X-Total-Count"] == "0"

        created = await client.post(
            "/api/v1/issues", json={**ISSUE, "assignees": ["ada"]}, headers=headers
        )
        assert created.status_code == 201
        url = f"/api/v1/issues/{created.json()['id']}"
        refused = await client.patch(
            url, json={"assignees": ["ada", "nosuchuser"]}, headers=headers
        )
        assert refused.status_code == 422
        [error] = refused.json()["detail"]
        assert error["loc"] == ["body", "assignees", 1]
        assert "nosuchuser" in error["msg"]
        after = await client.get(url, headers=headers)
        assert (after.json()["assignees"], after.json()["version"]) == (["ada"], 1)
        assert after.headers["ETag"] == created.headers["ETag"]


async def test_the_user_admin_routes_are_for_the_bootstrap_admins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = env_for(tmp_path, FASTAPI_ISSUES_SECRET_KEY=SECRET_KEY, FASTAPI_ISSUES_ADMINS="root")
    for name in ("root", "ada"):
        monkeypatch.setattr(sys, "stdin", io.StringIO("a long passphrase\n"))
        args = ["user", "add", name, "--password-stdin", "--storage-url"]
        assert await anyio.to_thread.run_sync(main, [*args, env["ISSUES_STORAGE_URL"]]) == 0
    async with running(create_app(env)) as client:
        root = {
            "Authorization": f"Bearer {await swagger_login(client, 'root', 'a long passphrase')}"
        }
        ada = {"Authorization": f"Bearer {await swagger_login(client, 'ada', 'a long passphrase')}"}
        listed = await client.get("/api/v1/users", headers=root)
        assert [user["username"] for user in listed.json()] == ["ada", "root"]
        assert (await client.get("/api/v1/users", headers=ada)).status_code == 403
        assert (await client.get("/api/v1/users")).status_code == 401
        promoted = await client.put("/api/v1/users/ada/admin", headers=root)
        assert promoted.json()["is_admin"] is True
        assert (await client.get("/api/v1/users", headers=ada)).status_code == 200
