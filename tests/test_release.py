"""The release path is wired to what it names: the GitHub Actions workflows run scripts that
exist on the Pythons pyproject.toml claims, and Read the Docs builds our mkdocs.yml with an
extra that pyproject.toml declares."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import yaml
from packaging.specifiers import SpecifierSet

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _project() -> dict[str, Any]:
    project: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    return project


def _claimed_pythons() -> list[str]:
    """The `Programming Language :: Python :: 3.X` classifiers, in order."""
    pattern = re.compile(r"Programming Language :: Python :: (3\.\d+)$")
    found = [m.group(1) for c in _project()["classifiers"] if (m := pattern.match(c))]
    return sorted(found, key=lambda v: tuple(map(int, v.split("."))))


def _triggers(workflow: dict[Any, Any]) -> dict[str, Any]:
    # YAML 1.1 reads the key `on` as the boolean True.
    triggers: dict[str, Any] = workflow.get("on", workflow.get(True))
    return triggers


def _steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = job["steps"]
    return steps


def test_the_claimed_pythons_are_consecutive_and_agree_with_requires_python() -> None:
    claimed = _claimed_pythons()
    assert claimed, "pyproject.toml names no Python version in its classifiers"
    minors = [int(v.split(".")[1]) for v in claimed]
    assert minors == list(range(minors[0], minors[-1] + 1)), claimed
    requires = SpecifierSet(_project()["requires-python"])
    previous = f"3.{minors[0] - 1}"
    assert all(f"{v}.0" in requires for v in claimed), (requires, claimed)
    assert f"{previous}.99" not in requires, f"requires-python allows {previous}, not claimed"


def test_ci_runs_dot_ci_run_on_every_claimed_python_with_postgresql() -> None:
    workflow = _yaml(WORKFLOWS / "ci.yml")
    triggers = _triggers(workflow)
    assert {"push", "pull_request", "workflow_call"} <= set(triggers)
    (job,) = workflow["jobs"].values()
    assert job["strategy"]["matrix"]["python"] == _claimed_pythons()
    assert "${{ matrix.python }}" in job["container"]
    runs = [step["run"] for step in _steps(job) if "run" in step]
    assert runs == ["bash .ci/run"]
    assert (ROOT / ".ci" / "run").is_file()
    postgres = job["services"]["postgres"]["env"]
    assert postgres == {
        "POSTGRES_USER": "postgres",
        "POSTGRES_HOST_AUTH_METHOD": "trust",
        "POSTGRES_DB": "test",
    }
    assert job["env"]["FASTAPI_ISSUES_TEST_POSTGRES_URL"].endswith("@postgres:5432/test")


def test_every_script_dot_ci_run_calls_exists() -> None:
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    called = re.findall(r"bash (\.ci/[\w.-]+)", script)
    assert called, "the pattern no longer finds .ci/run's scripts"
    for path in called:
        assert (ROOT / path).is_file(), path


def test_release_publishes_a_checked_build_with_trusted_publishing_only_after_ci() -> None:
    workflow = _yaml(WORKFLOWS / "release.yml")
    assert _triggers(workflow) == {"push": {"tags": ["v*"]}}
    jobs = workflow["jobs"]
    assert jobs["ci"]["uses"] == "./.github/workflows/ci.yml"
    assert jobs["build"]["needs"] == "ci"
    build_runs = "\n".join(step.get("run", "") for step in _steps(jobs["build"]))
    assert "python -m build" in build_runs
    assert "twine check" in build_runs
    publish = jobs["publish"]
    assert publish["needs"] == "build"
    assert publish["environment"]["name"] == "pypi"
    assert publish["permissions"] == {"id-token": "write"}
    (publish_step,) = [
        step
        for step in _steps(publish)
        if step.get("uses", "").startswith("pypa/gh-action-pypi-publish@")
    ]
    # Trusted publishing: no API token is handed to the action.
    assert "password" not in publish_step.get("with", {})
    assert workflow["permissions"] == {"contents": "read"}


def test_read_the_docs_builds_our_mkdocs_yml_with_a_declared_extra() -> None:
    config = _yaml(ROOT / ".readthedocs.yaml")
    assert config["version"] == 2
    assert config["build"]["os"]
    assert config["build"]["tools"]["python"] in _claimed_pythons()
    assert (ROOT / config["mkdocs"]["configuration"]).resolve() == ROOT / "mkdocs.yml"
    (install,) = config["python"]["install"]
    assert install["method"] == "pip"
    assert (ROOT / install["path"]).resolve() == ROOT
    extras = _project()["optional-dependencies"]
    for extra in install["extra_requirements"]:
        assert extra in extras, extra
    wanted = {"mkdocs", "mkdocs-material", "mkdocstrings"}
    named = {
        re.split(r"[\[<>=!~ ]", req)[0] for x in install["extra_requirements"] for req in extras[x]
    }
    assert wanted <= named, named


def test_the_project_urls_point_at_the_read_the_docs_site() -> None:
    project = _project()
    site = f"https://{project['name']}.readthedocs.io/"
    urls = project["urls"]
    assert urls["Documentation"] == site
    # Read the Docs serves the default version under /en/latest/; the page must be built.
    changelog = urls["Changelog"]
    assert changelog == f"{site}en/latest/changelog/"
    assert (ROOT / "docs" / "changelog.md").is_file()
    assert "changelog.md" in _pages(_yaml(ROOT / "mkdocs.yml")["nav"])


def _pages(nav: Any) -> list[str]:
    if isinstance(nav, str):
        return [nav]
    items = nav.values() if isinstance(nav, dict) else nav
    return [page for item in items for page in _pages(item)]


def test_the_lowest_versions_step_installs_extras_pyproject_declares() -> None:
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "--resolution lowest-direct" in script
    installs = re.findall(r'-e "\.\[([\w,-]+)\]"', script)
    assert installs, "the pattern no longer finds .ci/run's editable installs"
    declared = set(_project()["optional-dependencies"])
    for extras in installs:
        assert set(extras.split(",")) <= declared, extras
