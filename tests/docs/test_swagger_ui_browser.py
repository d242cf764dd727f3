"""The page users actually click: Swagger UI at `/docs`, in headless Chromium.

A real uvicorn serves the app on 127.0.0.1; the browser opens `/docs`, uses "Try it out" on
the create route and must see the 201. The example app serves Swagger UI's and ReDoc's assets
itself (fastapi-offline), and renders them with every request outside 127.0.0.1 refused. For
the Quickstart's app, which loads them from a CDN, they are served from the copy
fastapi-offline ships, and every other request outside 127.0.0.1 is refused, so the tests
never leave the machine.

Needs Debian's chromium (`bash .ci/install-browser`). Outside CI a missing browser skips the
test; in CI (`CI` set) it fails.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import fastapi_offline
import pytest
from playwright.sync_api import Browser, Page, Route

from tests.browser import launch_chromium
from tests.docs.conftest import EXAMPLES, REPO
from tests.servers import free_port, wait_until_up

SWAGGER_ASSETS = Path(fastapi_offline.__file__).parent / "static"
CDN_PREFIX = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    yield from launch_chromium()


@contextmanager
def uvicorn(app: str, cwd: Path, env: dict[str, str], log: Path) -> Iterator[str]:
    """Serve `app` ("module:attribute") from `cwd` on 127.0.0.1, output to `log`; yield
    its base URL."""
    port = free_port()
    with log.open("wb") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port)],
            cwd=cwd,
            env={**os.environ, **env},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{base}/openapi.json", server, timeout=30, log=log)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)


def open_docs(browser: Browser, base: str) -> Page:
    page = browser.new_page(viewport={"width": 1280, "height": 1000})

    def local_only(route: Route) -> None:
        url = route.request.url
        if url.startswith(f"{base}/"):
            route.continue_()
        elif url.startswith(CDN_PREFIX) and (SWAGGER_ASSETS / url[len(CDN_PREFIX) :]).is_file():
            route.fulfill(path=SWAGGER_ASSETS / url[len(CDN_PREFIX) :])
        else:
            route.abort()

    page.route("**/*", local_only)
    page.goto(f"{base}/docs")
    return page


def open_offline(browser: Browser, url: str, base: str) -> tuple[Page, list[str]]:
    """Open `url` with every request outside `base` refused; return the page and the URLs
    refused."""
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    refused: list[str] = []

    def local_only(route: Route) -> None:
        if route.request.url.startswith(f"{base}/"):
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    page.route("**/*", local_only)
    page.goto(url)
    return page, refused


def authorize(page: Page, username: str, password: str) -> None:
    """Swagger UI's Authorize dialog: the OAuth2 password flow against the app's /token."""
    page.locator(".auth-wrapper .btn.authorize").click()
    dialog = page.locator(".modal-ux")
    dialog.locator("#oauth_username").fill(username)
    dialog.locator("#oauth_password").fill(password)
    dialog.locator(".auth-btn-wrapper .btn.authorize").click()
    # Once logged in, the dialog offers Logout instead of Authorize.
    # (Matched by text: Swagger UI labels the buttons differently for screen readers.)
    dialog.locator("button", has_text="Logout").wait_for()
    dialog.locator("button", has_text="Close").click()


def create_with_try_it_out(page: Page, body: dict[str, str]) -> tuple[str, dict[str, object]]:
    """Expand "Create an issue", fill the body, Execute; return the status and the JSON."""
    operation = page.locator(".opblock.opblock-post").filter(has_text="Create an issue")
    if not operation.locator(".opblock-body").is_visible():
        operation.locator(".opblock-summary").click()
    try_it_out = operation.get_by_role("button", name="Try it out")
    editor = operation.locator("textarea.body-param__text")
    # The operation opens with an animation: wait until it offers "Try it out", or the editor
    # when an earlier call already chose it. (Checking at once raced with it under load.)
    try_it_out.or_(editor).first.wait_for()
    if try_it_out.is_visible():
        try_it_out.click()
    editor.fill(json.dumps(body))
    operation.get_by_role("button", name="Execute").click()
    response = operation.locator(".live-responses-table tbody tr.response")
    response.wait_for()
    status = response.locator(".response-col_status").inner_text().strip()
    returned = json.loads(response.locator(".response-col_description pre").first.inner_text())
    # Clear, so a second Execute waits for its own response.
    operation.get_by_role("button", name="Clear").click()
    return status, returned


BODY = {"title": "Created in a real browser", "description": "Through Swagger UI's Try it out."}
PASSWORD = "correct horse battery"


def cli(*args: str, cwd: Path, env: dict[str, str], stdin: str = "") -> str:
    result = subprocess.run(
        [str(Path(sys.executable).parent / "fastapi-issues"), *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **env},
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_example_app_docs_log_in_and_create_an_issue(browser: Browser, tmp_path: Path) -> None:
    storage = tmp_path / "issues.json"
    env = {"ISSUES_STORAGE_URL": str(storage)}
    env["FASTAPI_ISSUES_SECRET_KEY"] = cli("secret", cwd=tmp_path, env=env).strip()
    cli("user", "add", "tester", "--password-stdin", cwd=tmp_path, env=env, stdin=PASSWORD)
    with uvicorn("examples.app:app", REPO, env, tmp_path / "uvicorn.log") as base:
        page = open_docs(browser, base)
        status, refused = create_with_try_it_out(page, BODY)
        assert status == "401", refused
        authorize(page, "tester", PASSWORD)
        status, issue = create_with_try_it_out(page, BODY)
        page.screenshot(path=tmp_path / "example-app-docs.png", full_page=True)
        assert status == "201", issue
        assert issue["title"] == BODY["title"]
        assert issue["reporter"] == "tester"
    assert [i["id"] for i in json.loads(storage.read_text())["records"]] == [issue["id"]]


def test_quickstart_followed_literally_in_a_browser(browser: Browser, tmp_path: Path) -> None:
    """The Quickstart's main.py in an empty folder, its commands, then /docs as it says."""
    project = tmp_path / "my-app"
    project.mkdir()
    shutil.copy(EXAMPLES / "quickstart/main.py", project / "main.py")
    env = {"FASTAPI_ISSUES_SECRET_KEY": cli("secret", cwd=project, env={}).strip()}
    env["ISSUES_STORAGE_URL"] = ""  # as on a fresh machine: the CLI's default, data/
    cli("user", "add", "ada", "--password-stdin", cwd=project, env=env, stdin=PASSWORD)
    with uvicorn("main:app", project, env, tmp_path / "uvicorn.log") as base:
        page = open_docs(browser, base)
        authorize(page, "ada", PASSWORD)
        status, issue = create_with_try_it_out(page, BODY)
        assert status == "201", issue
        assert issue["reporter"] == "ada"
    stored = json.loads((project / "data" / "issues.json").read_text())["records"]
    assert [i["id"] for i in stored] == [issue["id"]]


@pytest.mark.parametrize(
    ("path", "operation"),
    [
        ("/docs", ".opblock.opblock-post .opblock-summary-description"),
        ("/redoc", "h2"),
    ],
    ids=["swagger-ui", "redoc"],
)
def test_example_app_docs_render_with_the_network_blocked(
    browser: Browser, tmp_path: Path, path: str, operation: str
) -> None:
    """No CDN: the example app serves Swagger UI's and ReDoc's assets itself."""
    env = {"ISSUES_STORAGE_URL": "memory://", "FASTAPI_ISSUES_SECRET_KEY": "k" * 64}
    with uvicorn("examples.app:app", REPO, env, tmp_path / "uvicorn.log") as base:
        page, refused = open_offline(browser, f"{base}{path}", base)
        shown = page.locator(operation).filter(has_text="Create an issue").first
        shown.wait_for(timeout=30_000)
        assert shown.is_visible()
        page.screenshot(path=tmp_path / f"offline{path.replace('/', '-')}.png")
    assert [url for url in refused if url.endswith((".js", ".css"))] == []
