"""The wheel and the sdist build and pass `twine check`, and the wheel works in clean virtual
environments: alone, and with each extra, where the README's mount snippet must run."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tarfile
import tomllib
import venv
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

import fastapi_issues

ROOT = Path(__file__).resolve().parents[1]

# What each extra makes importable: the check that its dependencies arrived and resolve.
# `dev` is the contributors' toolbox, not something a user installs.
EXTRA_IMPORTS = {
    "auth": ["fastapi_issues.auth", "jwt", "pwdlib", "multipart"],
    "sql": ["fastapi_issues.storage.sql", "aiosqlite", "alembic"],
    "postgres": ["fastapi_issues.storage.sql", "asyncpg"],
    "server": ["uvicorn", "fastapi_cli", "fastapi_issues.webhooks"],
    "testing": ["fastapi_issues.testing.stateful", "pytest"],
    "webhooks": ["fastapi_issues.webhooks", "httpx", "httpcore"],
    "bench": ["fastapi_issues.auth", "asyncpg", "uvicorn", "pyinstrument"],
    "docs": ["mkdocs", "material", "mkdocstrings"],
}
NOT_FOR_USERS = {"dev"}

# Run in each environment: the README's snippet, then a create and a list through it.
DRIVER = """
import sys
from pathlib import Path

from fastapi.testclient import TestClient

snippet = Path(sys.argv[1]).read_text(encoding="utf-8")
namespace = {}
exec(compile(snippet, "README.md (Mount it in your own app)", "exec"), namespace)
with TestClient(namespace["app"]) as client:
    body = {"title": "Installed from the wheel", "description": "It mounts."}
    created = client.post("/api/v1/issues", json=body)
    assert created.status_code == 201, (created.status_code, created.text)
    listed = client.get("/api/v1/issues")
    assert listed.status_code == 200, (listed.status_code, listed.text)
    ids = [issue["id"] for issue in listed.json()]
    assert ids == [created.json()["id"]], ids
print("ok")
"""


@dataclass(frozen=True)
class Dists:
    wheel: Path
    sdist: Path


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> Dists:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
    )
    return Dists(wheel=next(out.glob("fastapi_issues-*.whl")), sdist=next(out.glob("*.tar.gz")))


def _project() -> dict[str, object]:
    project: dict[str, object] = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))[
        "project"
    ]
    return project


def readme_mount_snippet() -> str:
    """The first Python block under the README's "Mount it in your own app" heading."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Mount it in your own app\n", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match, "the README's mount section has no Python block"
    return match.group(1)


@pytest.mark.slow
def test_wheel_and_sdist_build_and_the_wheel_installs_cleanly(dists: Dists, tmp_path: Path) -> None:
    version = fastapi_issues.__version__
    assert dists.wheel.name == f"fastapi_issues-{version}-py3-none-any.whl"
    assert dists.sdist.name == f"fastapi_issues-{version}.tar.gz"
    names = zipfile.ZipFile(dists.wheel).namelist()
    assert "fastapi_issues/py.typed" in names
    assert "fastapi_issues/storage/records/json_file.py" in names
    assert not any(name.startswith(("tests/", "examples/")) for name in names)
    with tarfile.open(dists.sdist) as archive:
        members = archive.getnames()
    assert f"fastapi_issues-{version}/src/fastapi_issues/routers/issues.py" in members
    assert f"fastapi_issues-{version}/CHANGELOG.md" in members

    python = _venv(tmp_path / "venv")
    _pip(python, str(dists.wheel))
    check = (
        "from fastapi_issues import make_issue_router, JSONFileIssueStore; "
        "import fastapi_issues; print(fastapi_issues.__version__)"
    )
    assert _run(str(python), "-c", check, cwd=tmp_path).strip() == version


@pytest.mark.slow
def test_twine_check_passes_on_the_sdist_and_the_wheel(dists: Dists) -> None:
    # --strict: a README PyPI would not render is an error, not a warning.
    out = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", str(dists.wheel), str(dists.sdist)],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.count("PASSED") == 2, out.stdout


def test_every_extra_a_user_installs_has_its_import_check() -> None:
    extras = _project()["optional-dependencies"]
    assert isinstance(extras, dict)
    assert set(extras) - NOT_FOR_USERS == set(EXTRA_IMPORTS)


def test_the_readme_mount_snippet_is_found() -> None:
    snippet = readme_mount_snippet()
    assert "make_issue_router" in snippet
    assert "app = FastAPI(" in snippet


@pytest.mark.slow
def test_the_wheel_installs_with_each_extra_and_runs_the_readme_mount_snippet(
    dists: Dists, tmp_path: Path
) -> None:
    """Each extra in a fresh environment, resolved by pip from the index (the deps must
    resolve), then the README's six lines serve a create and a list."""
    snippet = tmp_path / "snippet.py"
    snippet.write_text(readme_mount_snippet(), encoding="utf-8")
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER, encoding="utf-8")
    extras: list[str | None] = [None, *EXTRA_IMPORTS]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(
            pool.map(
                lambda extra: _try_extra(dists.wheel, extra, tmp_path, snippet, driver), extras
            )
        )
    failures = [result for result in results if result]
    assert not failures, "\n\n".join(failures)


def _try_extra(wheel: Path, extra: str | None, tmp_path: Path, snippet: Path, driver: Path) -> str:
    """Installs the wheel with `extra` in a new environment and runs the snippet; returns what
    went wrong, or "" when all went well."""
    name = extra or "base"
    work = tmp_path / name
    work.mkdir()
    try:
        # uv resolves from the index as pip does (the test above installs with pip), in a
        # fraction of the time: eight environments stay cheap enough for every CI run.
        _run(
            sys.executable,
            "-m",
            "uv",
            "venv",
            "--quiet",
            "--python",
            sys.executable,
            "venv",
            cwd=work,
        )
        python = work / "venv" / "bin" / "python"
        _uv_pip(python, "install", f"{wheel}[{extra}]" if extra else str(wheel))
        _uv_pip(python, "check")
        # The extra's own dependencies, before the test client adds anything of its own.
        modules = ["fastapi_issues", *EXTRA_IMPORTS.get(name, [])]
        _run(str(python), "-c", "; ".join(f"import {module}" for module in modules), cwd=work)
        _uv_pip(python, "install", "httpx")
        out = _run(str(python), str(driver), str(snippet), cwd=work)
    except subprocess.CalledProcessError as error:
        return f"[{name}] {error.cmd}: exit {error.returncode}\n{error.stdout}\n{error.stderr}"
    return "" if out.strip().endswith("ok") else f"[{name}] driver said {out!r}"


def _uv_pip(python: Path, *args: str) -> None:
    _run(
        sys.executable,
        "-m",
        "uv",
        "pip",
        *args,
        "--quiet",
        "--python",
        str(python),
        cwd=python.parent,
    )


def _venv(path: Path) -> Path:
    venv.create(path, with_pip=True)
    return path / "bin" / "python"


def _pip(python: Path, *requirements: str) -> None:
    _run(str(python), "-m", "pip", "install", "-q", *requirements, cwd=python.parent)


def _run(program: str, *args: str, cwd: Path) -> str:
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    # Our source tree must not leak in: the environment gets the wheel and nothing else.
    env.pop("PYTHONPATH", None)
    env.pop("VIRTUAL_ENV", None)
    return subprocess.run(
        [program, *args], check=True, capture_output=True, text=True, cwd=cwd, env=env
    ).stdout


def test_every_readme_program_runs_on_the_installed_wheel(dists: Dists, tmp_path: Path) -> None:
    """The README's Python programs (tests/docs/test_readme.py) against the wheel installed
    with the extras the README names, not against this checkout's source."""
    work = tmp_path / "readme"
    work.mkdir()
    _run(
        sys.executable, "-m", "uv", "venv", "--quiet", "--python", sys.executable, "venv", cwd=work
    )
    python = work / "venv" / "bin" / "python"
    # `testing` for the suite's own conftest (Hypothesis); pytest, anyio and httpx run it.
    _uv_pip(python, "install", f"{dists.wheel}[auth,sql,server,testing]", "httpx", "anyio")
    # From the checkout's root the tests are importable, but `fastapi_issues` is under src/:
    # what is imported is the wheel's.
    where = _run(
        str(python), "-c", "import fastapi_issues; print(fastapi_issues.__file__)", cwd=ROOT
    )
    assert str(work / "venv") in where, where
    out = _run(
        str(python),
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "-q",
        "-o",
        "addopts=",
        "tests/docs/test_readme.py",
        "-k",
        "runs_as_written",
        cwd=ROOT,
    )
    assert re.search(r"\b[1-9]\d* passed\b", out), out
    assert "failed" not in out, out
    assert "skipped" not in out, out
