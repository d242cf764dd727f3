"""Every sample under docs/examples/ runs here, the way its page tells the reader to use it.

`test_every_sample_is_exercised` keeps it that way: a sample whose path is not named in this
file fails the suite.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import httpx
import pytest

from fastapi_issues import InMemoryIssueStore
from fastapi_issues.auth import AuthSettingsError
from tests.docs.conftest import (
    EXAMPLES,
    LoadExample,
    add_user,
    fastapi_issues_cli,
    login,
)
from tests.servers import free_port, running, wait_until_up

pytestmark = pytest.mark.anyio

NEW_ISSUE = {"title": "Login button does nothing", "description": "Clicking it has no effect."}


def _stored(path: str | Path) -> list[dict[str, object]]:
    """The issues in a JSON store's file; none when there is no file."""
    file = Path(path)
    return json.loads(file.read_text())["records"] if file.exists() else []


# -- Home ----------------------------------------------------------------------------------


async def test_home_example_serves_the_issue_api(load_example: LoadExample) -> None:
    module = load_example("home.py")
    async with running(module.app) as client:
        created = await client.post("/api/v1/issues", json=NEW_ISSUE)
        assert created.status_code == 201
        issue = created.json()
        assert issue["status"] == "open"
        assert created.headers["location"].endswith(f"/api/v1/issues/{issue['id']}")
        listed = await client.get("/api/v1/issues")
        assert listed.headers["x-total-count"] == "1"
        assert [i["id"] for i in listed.json()] == [issue["id"]]
    # The promise in the comment: the issue is on disk, in data/issues.json.
    assert [i["id"] for i in _stored("data/issues.json")] == [issue["id"]]


# -- Quickstart ----------------------------------------------------------------------------


async def test_quickstart_from_nothing_to_an_authenticated_issue(
    load_example: LoadExample, secret_key: str
) -> None:
    """The Quickstart's steps in order: secret, `user add`, run, log in, create."""
    add_user("ada", "correct horse battery")
    module = load_example("quickstart/main.py")
    body = {
        "title": "Login button does nothing",
        "description": "Clicking it on the sign-in page has no effect.",
        "priority": "high",
    }
    async with running(module.app) as client:
        assert (await client.get("/docs")).status_code == 200
        schemes = (await client.get("/openapi.json")).json()["components"]["securitySchemes"]
        assert schemes["OAuth2PasswordBearer"]["flows"]["password"]["tokenUrl"] == "token"

        anonymous = await client.post("/api/v1/issues", json=body)
        assert anonymous.status_code == 401
        wrong = await client.post("/token", data={"username": "ada", "password": "nope"})
        assert wrong.status_code == 401

        auth = await login(client, "ada", "correct horse battery")
        created = await client.post("/api/v1/issues", json=body, headers=auth)
        assert created.status_code == 201
        issue = created.json()
        assert issue["reporter"] == "ada"
        assert created.headers["location"] == f"http://test/api/v1/issues/{issue['id']}"
        assert created.headers["etag"] == '"v1"'
        await client.post(
            "/api/v1/issues", json={**body, "title": "Typo", "priority": "low"}, headers=auth
        )
        listed = await client.get(
            "/api/v1/issues",
            params={"status": "open", "sort": "priority", "direction": "desc"},
            headers=auth,
        )
        assert [i["priority"] for i in listed.json()] == ["high", "low"]
    assert [i["title"] for i in _stored("data/issues.json")] == [body["title"], "Typo"]
    assert [u["username"] for u in _stored("data/users.json")] == ["ada"]


def test_quickstart_app_refuses_to_start_without_a_secret(
    load_example: LoadExample, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FASTAPI_ISSUES_SECRET_KEY", raising=False)
    with pytest.raises(AuthSettingsError, match="fastapi-issues secret"):
        load_example("quickstart/main.py")


# -- Tutorial ------------------------------------------------------------------------------


async def test_tutorial_step1_health(load_example: LoadExample) -> None:
    module = load_example("tutorial/step1_health.py")
    async with running(module.app) as client:
        response = await client.get("/health")
        assert response.json() == {"status": "ok"}
        assert (await client.get("/openapi.json")).json()["info"]["title"] == "Issue Tracker API"


async def test_tutorial_step2_crud_as_the_crash_course_does_it(load_example: LoadExample) -> None:
    module = load_example("tutorial/step2_issues.py")
    async with running(module.app) as client:
        assert (await client.get("/api/v1/issues")).json() == []

        created = await client.post(
            "/api/v1/issues",
            json={"title": "Issue 1", "description": "This is a test issue", "foo": "bar"},
        )
        assert created.status_code == 201
        issue = created.json()
        assert "foo" not in issue
        assert issue["priority"] == "medium"
        assert issue["status"] == "open"

        bad = await client.post(
            "/api/v1/issues",
            json={"title": "Issue 2", "description": "Bad priority", "priority": "urgent"},
        )
        assert bad.status_code == 422

        missing = await client.get("/api/v1/issues/1")
        assert missing.status_code == 404
        assert missing.json() == {"detail": "Issue not found"}

        updated = await client.put(
            f"/api/v1/issues/{issue['id']}", json={"description": "This is an updated issue"}
        )
        assert updated.status_code == 200
        assert updated.json()["description"] == "This is an updated issue"
        assert updated.json()["title"] == "Issue 1"
        assert updated.headers["etag"] == '"v2"'

        blank = await client.patch(f"/api/v1/issues/{issue['id']}", json={"title": None})
        assert blank.status_code == 422

        for n in range(2, 6):
            await client.post(
                "/api/v1/issues", json={"title": f"Issue {n}", "description": "More work"}
            )
        page = await client.get("/api/v1/issues", params={"page": 2, "limit": 2})
        assert [i["title"] for i in page.json()] == ["Issue 3", "Issue 4"]
        assert page.headers["x-total-count"] == "5"
        assert 'rel="next"' in page.headers["link"]

        found = await client.get("/api/v1/issues", params={"q": "updated"})
        assert [i["id"] for i in found.json()] == [issue["id"]]

        stale = await client.patch(
            f"/api/v1/issues/{issue['id']}",
            json={"status": "closed"},
            headers={"If-Match": '"v1"'},
        )
        assert stale.status_code == 412

        deleted = await client.delete(f"/api/v1/issues/{issue['id']}")
        assert deleted.status_code == 204
        assert (await client.get(f"/api/v1/issues/{issue['id']}")).status_code == 404


async def test_tutorial_step3_timing_and_cors(load_example: LoadExample) -> None:
    module = load_example("tutorial/step3_middleware.py")
    async with running(module.app) as client:
        response = await client.get("/health")
        assert re.fullmatch(r"\d+\.\d{4}s", response.headers["x-process-time"])

        preflight = await client.options(
            "/api/v1/issues",
            headers={
                "Origin": "http://localhost:3000",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "http://localhost:3000"
        assert "x-process-time" in preflight.headers

        created = await client.post(
            "/api/v1/issues", json=NEW_ISSUE, headers={"Origin": "http://localhost:3000"}
        )
        exposed = created.headers["access-control-expose-headers"].lower()
        exposed_names = {name.strip() for name in exposed.split(",")}
        assert {"location", "etag", "x-total-count", "link"} <= exposed_names

        foreign = await client.get("/health", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in foreign.headers


async def test_tutorial_step4_crash_course_login(
    load_example: LoadExample, secret_key: str
) -> None:
    add_user("johndoe", "correct horse battery", "--full-name", "John Doe")
    module = load_example("tutorial/step4_auth.py")
    async with running(module.app) as client:
        assert (await client.get("/health")).status_code == 200
        assert (await client.get("/api/v1/issues")).status_code == 401
        auth = await login(client, "johndoe", "correct horse battery")
        me = (await client.get("/users/me", headers=auth)).json()
        assert me == {
            "username": "johndoe",
            "email": None,
            "full_name": "John Doe",
            "disabled": False,
            "is_admin": False,
        }
        created = await client.post("/api/v1/issues", json=NEW_ISSUE, headers=auth)
        assert created.status_code == 201
        assert created.json()["reporter"] == "johndoe"
        assert "x-process-time" in created.headers

        # Disabling revokes the user's tokens: theirs gets 401 from the next request.
        fastapi_issues_cli("user", "disable", "johndoe")
        revoked = await client.get("/api/v1/issues", headers=auth)
        assert revoked.status_code == 401
        assert revoked.json() == {"detail": "Could not validate credentials"}


# -- Storage -------------------------------------------------------------------------------


async def test_storage_env_setting_picks_the_store(
    load_example: LoadExample, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ISSUES_STORAGE_URL", f"json://{tmp_path}/elsewhere.json")
    module = load_example("storage/from_url.py")
    async with running(module.app) as client:
        assert (await client.post("/api/v1/issues", json=NEW_ISSUE)).status_code == 201
    assert len(_stored(tmp_path / "elsewhere.json")) == 1

    monkeypatch.setenv("ISSUES_STORAGE_URL", "memory://")
    module = load_example("storage/from_url.py")
    assert isinstance(module.store, InMemoryIssueStore)


async def test_storage_default_is_the_json_file(
    load_example: LoadExample, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ISSUES_STORAGE_URL", raising=False)
    module = load_example("storage/from_url.py")
    async with running(module.app) as client:
        assert (await client.post("/api/v1/issues", json=NEW_ISSUE)).status_code == 201
    assert len(_stored("data/issues.json")) == 1


async def test_storage_sqlite_sample_keeps_issues_across_restarts(
    load_example: LoadExample,
) -> None:
    module = load_example("storage/sqlite_store.py")
    async with running(module.app) as client:
        issue = (await client.post("/api/v1/issues", json=NEW_ISSUE)).json()
    assert Path("data/issues.db").is_file()
    restarted = load_example("storage/sqlite_store.py")
    async with running(restarted.app) as client:
        listed = (await client.get("/api/v1/issues")).json()
    assert [i["id"] for i in listed] == [issue["id"]]


async def test_storage_url_opens_sqlite_with_tables_made_at_start_up(
    load_example: LoadExample, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ISSUES_STORAGE_URL", "sqlite:///data/issues.db")
    module = load_example("storage/from_url.py")
    async with running(module.app) as client:
        assert Path("data/issues.db").is_file(), "prepare_store made the database at start-up"
        assert (await client.post("/api/v1/issues", json=NEW_ISSUE)).status_code == 201
        assert (await client.get("/api/v1/issues")).headers["x-total-count"] == "1"


async def test_storage_url_opens_postgresql(
    load_example: LoadExample, monkeypatch: pytest.MonkeyPatch, postgres_database: str
) -> None:
    monkeypatch.setenv("ISSUES_STORAGE_URL", postgres_database)
    module = load_example("storage/from_url.py")
    async with running(module.app) as client:
        created = await client.post("/api/v1/issues", json=NEW_ISSUE)
        assert created.status_code == 201
        found = await client.get("/api/v1/issues", params={"q": "BUTTON"})
        assert [i["id"] for i in found.json()] == [created.json()["id"]]


async def test_storage_migrating_json_to_sqlite_as_the_page_says(
    load_example: LoadExample, secret_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ISSUES_STORAGE_URL", raising=False)
    add_user("ada", "correct horse battery")
    before = load_example("deployment/main.py")
    async with running(before.app) as client:
        auth = await login(client, "ada", "correct horse battery")
        for n in range(3):
            await client.post(
                "/api/v1/issues", json={**NEW_ISSUE, "title": f"Issue {n}"}, headers=auth
            )
        await client.patch(
            f"/api/v1/issues/{_stored('data/issues.json')[0]['id']}",
            json={"status": "closed"},
            headers=auth,
        )
        # As the API shows them: the file keeps label ids, not names, and no comment counts.
        json_issues = (await client.get("/api/v1/issues", headers=auth)).json()
    assert [i["id"] for i in json_issues] == [i["id"] for i in _stored("data/issues.json")]

    out = fastapi_issues_cli(
        "migrate", "--from", "data/issues.json", "--to", "sqlite:///data/issues.db"
    )
    assert out.splitlines() == [
        "issues: 3 copied, 0 already there",
        "users: 1 copied, 0 already there",
    ]
    again = fastapi_issues_cli(
        "migrate", "--from", "data/issues.json", "--to", "sqlite:///data/issues.db"
    )
    assert again.splitlines()[0] == "issues: 0 copied, 3 already there"

    monkeypatch.setenv("ISSUES_STORAGE_URL", "sqlite:///data/issues.db")
    after = load_example("deployment/main.py")
    async with running(after.app) as client:
        auth = await login(client, "ada", "correct horse battery")
        listed = (await client.get("/api/v1/issues", headers=auth)).json()
    assert listed == json_issues


async def test_storage_dependency_override_sample_passes(load_example: LoadExample) -> None:
    module = load_example("storage/test_app_in_memory.py")
    await module.test_create_then_list()
    # It ran against the override, so nothing reached the JSON file.
    assert _stored("data/issues.json") == []
    assert module.app.dependency_overrides == {}


async def test_storage_evented_store_reports_writes_over_http(load_example: LoadExample) -> None:
    module = load_example("storage/evented_store.py")
    events: list[tuple[str, str]] = []

    async def record(event: str, issue_id: str) -> None:
        events.append((event, issue_id))

    from fastapi import FastAPI

    from fastapi_issues import make_issue_router

    app = FastAPI()
    app.include_router(make_issue_router(module.EventedIssueStore(InMemoryIssueStore(), record)))
    async with running(app) as client:
        issue = (await client.post("/api/v1/issues", json=NEW_ISSUE)).json()
        await client.get(f"/api/v1/issues/{issue['id']}")
        await client.patch(f"/api/v1/issues/{issue['id']}", json={"status": "closed"})
        stale = await client.delete(f"/api/v1/issues/{issue['id']}", headers={"If-Match": '"v1"'})
        assert stale.status_code == 412
        await client.delete(f"/api/v1/issues/{issue['id']}")
    assert events == [("created", issue["id"]), ("updated", issue["id"]), ("deleted", issue["id"])]


def _import_sample(relative: str) -> ModuleType:
    """Import a sample at collection time, its folder on `sys.path` while it loads."""
    path = EXAMPLES / relative
    sys.path.insert(0, str(path.parent))
    try:
        spec = importlib.util.spec_from_file_location(f"docs_sample_{path.stem}", path)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(path.parent))


# The storage page's contract-suite and model-based samples: pytest collects the classes here
# and runs them in full.
_evented_tests = _import_sample("storage/test_evented_store.py")
TestEventedIssueStore = _evented_tests.TestEventedIssueStore
TestEventedIssueStoreModel = _evented_tests.TestEventedIssueStoreModel


# -- Auth ----------------------------------------------------------------------------------


async def test_auth_builtin_under_a_prefix(load_example: LoadExample, secret_key: str) -> None:
    add_user("ada", "correct horse battery")
    module = load_example("auth/builtin_prefixed.py")
    async with running(module.app) as client:
        schemes = (await client.get("/openapi.json")).json()["components"]["securitySchemes"]
        assert schemes["OAuth2PasswordBearer"]["flows"]["password"]["tokenUrl"] == "auth/token"
        assert (await client.post("/token", data={"username": "ada"})).status_code == 404
        auth = await login(client, "ada", "correct horse battery", path="/auth/token")
        assert (await client.get("/auth/users/me", headers=auth)).json()["username"] == "ada"
        created = await client.post("/api/v1/issues", json=NEW_ISSUE, headers=auth)
        assert created.json()["reporter"] == "ada"


async def test_auth_api_key_dependency(load_example: LoadExample) -> None:
    module = load_example("auth/api_key.py")
    async with running(module.app) as client:
        assert (await client.get("/api/v1/issues")).status_code == 401
        wrong = await client.get("/api/v1/issues", headers={"X-API-Key": "nope"})
        assert wrong.status_code == 401
        created = await client.post(
            "/api/v1/issues", json=NEW_ISSUE, headers={"X-API-Key": "ci-bot-key-change-me"}
        )
        assert created.status_code == 201
        assert created.json()["reporter"] == "ci-bot"
        schemes = (await client.get("/openapi.json")).json()["components"]["securitySchemes"]
        assert schemes == {"APIKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key"}}


async def test_auth_policies_ready_made_and_own(load_example: LoadExample) -> None:
    module = load_example("auth/policy.py")
    bob, eve, ada = ({"X-User": name} for name in ("bob", "eve", "ada"))
    async with running(module.app) as client:
        issue = (await client.post("/api/v1/issues", json=NEW_ISSUE, headers=bob)).json()
        assert issue["reporter"] == "bob"
        url = f"/api/v1/issues/{issue['id']}"
        # ReporterOrAdmin: everyone reads; only the reporter or an admin changes.
        assert (await client.get(url, headers=eve)).status_code == 200
        assert (await client.get("/api/v1/issues", headers=eve)).status_code == 200
        denied = await client.patch(url, json={"priority": "high"}, headers=eve)
        assert denied.status_code == 403
        assert (await client.delete(url, headers=eve)).status_code == 403
        assert (await client.patch(url, json={"priority": "high"}, headers=ada)).status_code == 200
        assert (await client.patch(url, json={"status": "closed"}, headers=bob)).status_code == 200
        # Closed: frozen for the reporter too, not for an admin.
        frozen = await client.patch(url, json={"status": "open"}, headers=bob)
        assert frozen.status_code == 403
        assert (await client.delete(url, headers=bob)).status_code == 403
        assert (await client.patch(url, json={"status": "open"}, headers=ada)).status_code == 200
        assert (await client.delete(url, headers=bob)).status_code == 204
        assert (await client.get(url, headers=bob)).status_code == 404
        assert (await client.get(url)).status_code == 401


async def test_auth_per_route_dependencies_and_exclude(load_example: LoadExample) -> None:
    module = load_example("auth/per_route.py")
    bob, ada = {"X-User": "bob"}, {"X-User": "ada"}
    async with running(module.app) as client:
        issue = (await client.post("/api/v1/issues", json=NEW_ISSUE, headers=bob)).json()
        url = f"/api/v1/issues/{issue['id']}"
        assert (await client.put(url, json={"title": "Renamed"}, headers=bob)).status_code == 405
        assert (await client.patch(url, json={"title": "Renamed"}, headers=bob)).status_code == 200
        forbidden = await client.delete(url, headers=bob)
        assert forbidden.status_code == 403
        assert forbidden.json() == {"detail": "Only admins may delete issues"}
        assert (await client.delete(url, headers=ada)).status_code == 204


# -- Deployment ----------------------------------------------------------------------------


async def test_deployment_app_on_postgresql(
    load_example: LoadExample,
    secret_key: str,
    monkeypatch: pytest.MonkeyPatch,
    postgres_database: str,
) -> None:
    # The PostgreSQL recipe: one URL for issues and users, users added with the CLI.
    monkeypatch.setenv("ISSUES_STORAGE_URL", postgres_database)
    add_user("ada", "correct horse battery")
    module = load_example("deployment/main.py")
    async with running(module.app) as client:
        auth = await login(client, "ada", "correct horse battery")
        created = await client.post("/api/v1/issues", json=NEW_ISSUE, headers=auth)
        assert created.json()["reporter"] == "ada"
        assert (await client.get("/health")).json() == {"status": "ok"}
    assert not Path("data").exists(), "nothing was written beside the app"


async def test_deployment_app_throttles_logins_and_limits_bodies(
    load_example: LoadExample, secret_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ISSUES_STORAGE_URL", raising=False)
    add_user("ada", "correct horse battery")
    module = load_example("deployment/main.py")
    async with running(module.app) as client:
        statuses = [
            (await client.post("/token", data={"username": "ada", "password": "guess"})).status_code
            for _ in range(6)
        ]
        assert statuses == [401] * 5 + [429]
        auth_refused = await client.post(
            "/token", data={"username": "ada", "password": "correct horse battery"}
        )
        assert auth_refused.status_code == 429
        assert int(auth_refused.headers["retry-after"]) >= 1

        huge = {"title": "Huge", "description": "x" * (2 * 1024 * 1024)}
        assert (await client.post("/api/v1/issues", json=huge)).status_code == 413


def _dockerfile_command() -> list[str]:
    text = (EXAMPLES / "deployment/Dockerfile").read_text().replace("\\\n", " ")
    (cmd,) = re.findall(r"^CMD (\[.*\])$", text, flags=re.MULTILINE)
    return list(json.loads(cmd))


def _procfile_command() -> list[str]:
    (line,) = (EXAMPLES / "deployment/Procfile").read_text().splitlines()
    kind, command = line.split(":", 1)
    assert kind == "web"
    return shlex.split(command)


@pytest.fixture(params=["Dockerfile", "Procfile"])
def deployed(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The recipe's own start command, run on the sample app, bound to 127.0.0.1 only."""
    port = free_port()
    command = _dockerfile_command() if request.param == "Dockerfile" else _procfile_command()
    assert command[0] == "uvicorn"
    command = [
        {"0.0.0.0": "127.0.0.1", "8000": str(port), "$PORT": str(port)}.get(arg, arg)
        for arg in command
    ]
    assert f"--port={port}" in "=".join(command) or str(port) in command
    project = tmp_path / "project"
    project.mkdir()
    (project / "main.py").write_text((EXAMPLES / "deployment/main.py").read_text())
    storage = str(tmp_path / "data" / "issues.json")
    env = {
        **os.environ,
        "ISSUES_STORAGE_URL": storage,
        "FASTAPI_ISSUES_SECRET_KEY": fastapi_issues_cli("secret").strip(),
    }
    # `docker run ... fastapi-issues user add ada`: the CLI finds the store the same way.
    fastapi_issues_cli(
        "user", "add", "ada", "--password-stdin", stdin="correct horse battery", env=env
    )
    server = subprocess.Popen(
        [sys.executable, "-m", *command],
        cwd=project,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{base}/health", server, timeout=30)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.slow
def test_deployment_recipe_serves_with_two_workers(deployed: str, tmp_path: Path) -> None:
    workers = 2
    with httpx.Client(base_url=deployed, timeout=10) as client:
        assert client.post("/api/v1/issues", json=NEW_ISSUE).status_code == 401
        login = client.post("/token", data={"username": "ada", "password": "correct horse battery"})
        auth = {"Authorization": f"Bearer {login.json()['access_token']}"}
        ids = set()
        for n in range(20):
            response = client.post(
                "/api/v1/issues",
                json={"title": f"Issue {n}", "description": "From a worker"},
                headers=auth,
            )
            assert response.status_code == 201
            ids.add(response.json()["id"])
    # New connections land on either worker: each accepts the token (one shared secret)
    # and sees all twenty issues (one shared file).
    for _ in range(workers * 3):
        with httpx.Client(base_url=deployed, timeout=10) as fresh:
            listed = fresh.get("/api/v1/issues", params={"limit": 100}, headers=auth)
            assert listed.status_code == 200
            assert {i["id"] for i in listed.json()} == ids
    stored = json.loads((tmp_path / "data" / "issues.json").read_text())["records"]
    assert {i["id"] for i in stored} == ids
    assert {i["reporter"] for i in stored} == {"ada"}


def test_deployment_recipes_install_the_extras_they_need() -> None:
    requirements = (EXAMPLES / "deployment/requirements.txt").read_text().split()
    assert requirements == ["fastapi-issues[auth,postgres,server]"]
    assert "--workers" in _dockerfile_command()
    assert "--workers" in _procfile_command()


# -- Every sample is exercised -------------------------------------------------------------


def test_every_sample_is_exercised() -> None:
    # Samples of a page may be run by a test module of their own beside this one.
    this_file = "\n".join(p.read_text() for p in Path(__file__).parent.glob("test_*.py"))
    samples = sorted(
        p.relative_to(EXAMPLES).as_posix()
        for p in EXAMPLES.rglob("*")
        if p.is_file()
        and p.name != "ruff.toml"
        # Tool caches (__pycache__, .ruff_cache, ...) are not samples.
        and not any(
            part == "__pycache__" or part.startswith(".") for part in p.relative_to(EXAMPLES).parts
        )
    )
    assert samples, "no samples found"
    untested = [s for s in samples if f'"{s}"' not in this_file and f"/{s}" not in this_file]
    assert untested == [], f"samples no test runs: {untested}"
