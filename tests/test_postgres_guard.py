"""The test suite's guard: with FASTAPI_ISSUES_REQUIRE_POSTGRES=1, skipped PostgreSQL tests
fail the run instead of passing quietly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

CONFTEST = Path(__file__).with_name("conftest.py")

TESTS = """
def test_uses_postgres(postgres_url):
    assert postgres_url

def test_plain():
    assert True
"""


def run_suite(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "conftest.py").write_text(CONFTEST.read_text())
    (tmp_path / "test_sample.py").write_text(TESTS)
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    postgres: needs PostgreSQL\n")
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"CI", "FASTAPI_ISSUES_TEST_POSTGRES_URL", "FASTAPI_ISSUES_REQUIRE_POSTGRES"}
    }
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs"],
        cwd=tmp_path,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
def test_skips_pass_when_postgres_is_optional(tmp_path: Path) -> None:
    result = run_suite(tmp_path)
    assert result.returncode == 0, result.stdout
    assert "1 passed, 1 skipped" in result.stdout
    assert "FASTAPI_ISSUES_TEST_POSTGRES_URL=postgresql+asyncpg://" in result.stdout


@pytest.mark.slow
def test_skips_fail_the_run_when_postgres_is_required(tmp_path: Path) -> None:
    result = run_suite(tmp_path, FASTAPI_ISSUES_REQUIRE_POSTGRES="1")
    assert result.returncode == 1, result.stdout
    assert "1 PostgreSQL test(s) were skipped" in result.stdout
    assert "test_sample.py::test_uses_postgres" in result.stdout
