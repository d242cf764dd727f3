"""The site builds with `mkdocs build --strict`: a broken link, anchor, include or API
reference fails the suite, and so CI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.docs.conftest import REPO


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stderr}"
    return out


def test_every_page_is_built(site: Path) -> None:
    for page in (
        "",
        "quickstart/",
        "tutorial/",
        "storage/",
        "auth/",
        "deployment/",
        "upgrading/",
        "performance/",
        "security/",
        "reference/",
        "architecture/",
        "changelog/",
    ):
        assert (site / page / "index.html").is_file(), f"no page {page or 'home'}"


def test_samples_are_included(site: Path) -> None:
    home = (site / "index.html").read_text(encoding="utf-8")
    assert "JSONFileIssueStore" in home
    for page in site.rglob("*.html"):
        # Neither an include left unexpanded nor a section marker of a sample.
        assert "--8&lt;--" not in page.read_text(encoding="utf-8"), page


def test_changelog_page_is_the_changelog(site: Path) -> None:
    page = (site / "changelog" / "index.html").read_text(encoding="utf-8")
    assert "Unreleased" in page
    assert "make_issue_router" in page


def test_api_reference_is_rendered_from_docstrings(site: Path) -> None:
    page = (site / "reference" / "index.html").read_text(encoding="utf-8")
    # A phrase from make_issue_router's docstring and one from the IssueStore protocol's.
    assert "Build the issue routes as an" in page
    assert "Where issues live" in page


def test_api_reference_shows_no_untested_code(site: Path) -> None:
    """Docstrings are rendered as they are: a code example in one would be Python on the
    site that no test runs. Signatures are rendered differently and are fine."""
    page = (site / "reference" / "index.html").read_text(encoding="utf-8")
    assert 'class="highlight"' not in page
    assert 'class="language-python highlight"' not in page
