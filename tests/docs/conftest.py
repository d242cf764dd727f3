"""Helpers for the documentation tests: load a sample from docs/examples/ as the reader would
run it (from an empty project folder) and talk to its app over HTTP."""

from __future__ import annotations

import importlib.util
import itertools
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import httpx
import pytest

from fastapi_issues import JSONFileIssueStore

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
EXAMPLES = DOCS / "examples"

_counter = itertools.count()

LoadExample = Callable[[str], ModuleType]


@pytest.fixture
def load_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LoadExample]:
    """Import `docs/examples/<relative path>` with an empty temporary folder as the cwd.

    The sample's own folder goes on `sys.path`, so samples can import their neighbours the
    way the reader's files would. JSON stores the sample opened are closed afterwards.
    """
    monkeypatch.chdir(tmp_path)
    loaded: list[ModuleType] = []

    def load(relative: str) -> ModuleType:
        path = EXAMPLES / relative
        assert path.is_file(), f"no sample {path}"
        monkeypatch.syspath_prepend(str(path.parent))
        name = f"docs_example_{next(_counter)}_{path.stem}"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        loaded.append(module)
        return module

    yield load
    for module in loaded:
        sys.modules.pop(module.__name__, None)
        for value in vars(module).values():
            if isinstance(value, JSONFileIssueStore):
                value.close()


CLI = Path(sys.executable).parent / "fastapi-issues"


def fastapi_issues_cli(*args: str, stdin: str = "", env: dict[str, str] | None = None) -> str:
    """Run the `fastapi-issues` command the pages tell readers to type; return its stdout."""
    result = subprocess.run(
        [str(CLI), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )
    assert result.returncode == 0, f"fastapi-issues {' '.join(args)} failed:\n{result.stderr}"
    return result.stdout


@pytest.fixture
def secret_key(monkeypatch: pytest.MonkeyPatch) -> str:
    """`export FASTAPI_ISSUES_SECRET_KEY="$(fastapi-issues secret)"`, as the pages say."""
    secret = fastapi_issues_cli("secret").strip()
    monkeypatch.setenv("FASTAPI_ISSUES_SECRET_KEY", secret)
    return secret


def add_user(username: str, password: str, *extra: str) -> None:
    """`fastapi-issues user add USERNAME` with the password on stdin, in the current folder."""
    out = fastapi_issues_cli("user", "add", username, "--password-stdin", *extra, stdin=password)
    assert username in out


async def login(
    client: httpx.AsyncClient, username: str, password: str, path: str = "/token"
) -> dict[str, str]:
    """The Authorization header of a fresh token, got as Swagger UI's Authorize gets it."""
    response = await client.post(path, data={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}
