"""The wheel and the sdist build, and the wheel works in a clean virtual environment."""

from __future__ import annotations

import subprocess
import sys
import tarfile
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_and_sdist_build_and_the_wheel_installs_cleanly(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(dist), str(ROOT)],
        check=True,
        capture_output=True,
    )
    wheel = next(dist.glob("fastapi_issues-0.1.0-*.whl"))
    sdist = next(dist.glob("fastapi_issues-0.1.0.tar.gz"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "fastapi_issues/py.typed" in names
    assert "fastapi_issues/storage/records/json_file.py" in names
    assert not any(name.startswith(("tests/", "examples/")) for name in names)
    with tarfile.open(sdist) as archive:
        members = archive.getnames()
    assert "fastapi_issues-0.1.0/src/fastapi_issues/routers/issues.py" in members
    assert "fastapi_issues-0.1.0/CHANGELOG.md" in members

    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", str(wheel)], check=True, capture_output=True
    )
    check = (
        "from fastapi_issues import make_issue_router, JSONFileIssueStore; "
        "import fastapi_issues; print(fastapi_issues.__version__)"
    )
    out = subprocess.run(
        [str(python), "-c", check], check=True, capture_output=True, text=True, cwd=tmp_path
    )
    assert out.stdout.strip() == "0.1.0"
