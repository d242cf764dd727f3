"""Every block of the README runs as written.

Python blocks: each ```python block is a complete program (saved as `main.py` in an empty
folder and imported there), unless the line before it, blank lines aside, is the marker

    <!-- continues -->

which makes it the continuation of the program the block above it started: the two are run
as one file. A program must leave a FastAPI `app` at module level; the test runs its
lifespan, and if it serves `POST /token` adds a user with the `fastapi-issues` command (as the
README's next block says) and logs in, then creates an issue and lists it through httpx. The
environment holds a signing key (`FASTAPI_ISSUES_SECRET_KEY`) and nothing else of ours; a
program that reads `ISSUES_STORAGE_URL` is run once without it and once with a SQLite URL.

Bash blocks: the first two are what a new user runs first. The second, the test command, must
be the line `.ci/run` runs (pip's `-q` aside); the first, serving the example app, is run (from
an empty folder, with this checkout on the path) and its demo login must work.
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import httpx
import pytest
from fastapi import FastAPI

from fastapi_issues.storage.urls import close_store
from tests.docs.conftest import REPO, add_user, login
from tests.docs.test_code_blocks import PYTHON, fenced_blocks
from tests.servers import free_port, running, wait_until_up

README = REPO / "README.md"
CONTINUES = "<!-- continues -->"
PASSWORD = "correct horse battery"
ISSUE = {"title": "From the README", "description": "Every block runs as written."}

_counter = itertools.count()


@dataclass(frozen=True)
class Program:
    """One or more README blocks run as one file; `line` is where its first block starts."""

    line: int
    source: str


def programs(text: str) -> list[Program]:
    """The README's Python programs: each block alone, or joined to the one before when it
    is marked as a continuation."""
    lines = text.splitlines()
    found: list[Program] = []
    for start, language, body in fenced_blocks(text):
        if language not in PYTHON:
            continue
        source = "\n".join(body) + "\n"
        if _marked_as_continuation(lines, start - 1):
            if not found:
                raise ValueError(f"line {start}: the first python block cannot continue one")
            found[-1] = Program(found[-1].line, found[-1].source + source)
        else:
            found.append(Program(start, source))
    return found


def _marked_as_continuation(lines: list[str], fence_index: int) -> bool:
    before = fence_index - 1
    while before >= 0 and not lines[before].strip():
        before -= 1
    return before >= 0 and lines[before].strip() == CONTINUES


def bash_commands(text: str) -> list[str]:
    """The commands of the README's bash blocks, in order (comments and blanks left out)."""
    commands = []
    for _, language, body in fenced_blocks(text):
        if language in {"bash", "sh", "shell", "console"}:
            for line in body:
                command = line.split("  #", 1)[0].strip()
                if command and not command.startswith("#"):
                    commands.append(command)
    return commands


PROGRAMS = programs(README.read_text(encoding="utf-8"))
SQLITE_URL = "sqlite:///data/issues.db"
CASES = [
    pytest.param(program, url, id=f"line-{program.line}" + ("-sqlite" if url else ""))
    for program in PROGRAMS
    for url in ([None, SQLITE_URL] if "ISSUES_STORAGE_URL" in program.source else [None])
]


@pytest.fixture
def in_empty_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, secret_key: str) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("FASTAPI_ISSUES_") and name != "FASTAPI_ISSUES_SECRET_KEY":
            monkeypatch.delenv(name)
    monkeypatch.delenv("ISSUES_STORAGE_URL", raising=False)
    return tmp_path


def import_program(folder: Path, program: Program) -> ModuleType:
    path = folder / "main.py"
    path.write_text(program.source, encoding="utf-8")
    name = f"readme_program_{next(_counter)}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def issue_list_path(paths: dict[str, object]) -> str:
    return min((p for p in paths if p.rstrip("/").endswith("/issues")), key=len)


async def create_and_list(app: FastAPI) -> None:
    async with running(app) as client:
        paths = (await client.get("/openapi.json")).json()["paths"]
        issues = issue_list_path(paths)
        headers: dict[str, str] = {}
        if "/token" in paths:
            assert (await client.get(issues)).status_code == 401
            headers = await login(client, "ada", PASSWORD)
        created = await client.post(issues, json=ISSUE, headers=headers)
        assert created.status_code == 201, created.text
        listed = await client.get(issues, headers=headers)
        assert [i["id"] for i in listed.json()] == [created.json()["id"]]


def test_the_readme_has_the_programs_it_shows() -> None:
    assert len(PROGRAMS) >= 3


@pytest.mark.anyio
@pytest.mark.parametrize(("program", "storage_url"), CASES)
async def test_readme_program_runs_as_written(
    program: Program,
    storage_url: str | None,
    in_empty_folder: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if storage_url is not None:
        monkeypatch.setenv("ISSUES_STORAGE_URL", storage_url)
    # The README's next block: a user, added by the command, wherever the URL puts users.
    add_user("ada", PASSWORD)
    module = import_program(in_empty_folder, program)
    try:
        app = getattr(module, "app", None)
        assert isinstance(app, FastAPI), f"README line {program.line}: no FastAPI `app`"
        await create_and_list(app)
    finally:
        for value in vars(module).values():
            if not isinstance(value, type):
                await close_store(value)


def test_the_test_command_is_the_one_ci_runs() -> None:
    commands = bash_commands(README.read_text(encoding="utf-8"))
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    # The same command, but for CI's quieter pip.
    assert commands[1] in [line.replace("pip install -q ", "pip install ") for line in ci]


@pytest.mark.slow
def test_the_first_command_serves_the_example_app_with_its_demo_user(
    tmp_path: Path,
) -> None:
    first = bash_commands(README.read_text(encoding="utf-8"))[0]
    setup, serve = first.rsplit(" && ", 1)
    # The set-up is the test command's, with the extras the app needs.
    test_setup = bash_commands(README.read_text(encoding="utf-8"))[1].rsplit(" && ", 1)[0]
    assert setup == test_setup.replace('".[dev]"', '".[auth,server]"')
    assignments = re.findall(r"(\w+)=(\S+) ", serve)
    program = serve.split()[len(assignments) :]
    assert program[0] == ".venv/bin/uvicorn"
    port = free_port()
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("FASTAPI_ISSUES_") and name != "ISSUES_STORAGE_URL"
    }
    env.update(dict(assignments), PYTHONPATH=f"{REPO / 'src'}{os.pathsep}{REPO}")
    log = tmp_path / "uvicorn.log"
    with log.open("wb") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", *program[1:], "--port", str(port)],
            cwd=tmp_path,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{base}/health", server, timeout=60, log=log)
        # The demo login the README names: johndoe / secret.
        token = httpx.post(f"{base}/token", data={"username": "johndoe", "password": "secret"})
        assert token.status_code == 200, token.text
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        assert httpx.get(f"{base}/api/v1/issues", headers=headers).status_code == 200
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert (tmp_path / "data" / "users.json").is_file()


def test_a_marked_block_continues_the_one_before() -> None:
    text = (
        "```python\nx = 1\n```\n\n<!-- continues -->\n\n```python\ny = x\n```\n\n"
        "```python\nz = 3\n```\n"
    )
    assert programs(text) == [Program(1, "x = 1\ny = x\n"), Program(11, "z = 3\n")]


def test_the_first_block_cannot_be_a_continuation() -> None:
    with pytest.raises(ValueError, match="cannot continue"):
        programs("<!-- continues -->\n```python\nx = 1\n```\n")
