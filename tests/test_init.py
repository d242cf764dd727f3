"""The package root: what `fastapi_issues` exports, and what it says when an extra is missing."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import fastapi_issues
from fastapi_issues.auth.urls import open_user_store
from fastapi_issues.storage.urls import open_issue_store

ROOT = Path(__file__).resolve().parents[1]
URLS = ["sqlite+aiosqlite:///issues.db", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"]


def test_the_store_openers_are_exported_from_the_root() -> None:
    from fastapi_issues import open_issue_store as root_issue_opener
    from fastapi_issues import open_user_store as root_user_opener

    assert root_issue_opener is open_issue_store
    assert root_user_opener is open_user_store
    assert {"open_issue_store", "open_user_store"} <= set(fastapi_issues.__all__)
    for name in fastapi_issues.__all__:
        assert getattr(fastapi_issues, name) is not None
    with pytest.raises(AttributeError, match="has no attribute 'open_nothing'"):
        fastapi_issues.open_nothing  # noqa: B018


def run_without(modules: set[str], code: str) -> subprocess.CompletedProcess[str]:
    """Run `code` in a fresh interpreter where importing any of `modules` fails, as it does
    when the extra that brings them is not installed."""
    block = f"import sys\nfor name in {sorted(modules)!r}:\n    sys.modules[name] = None\n"
    return subprocess.run(
        [sys.executable, "-c", block + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )


OPEN_EVERY_URL = f"""
    import json
    from fastapi_issues import open_issue_store, open_user_store
    errors = []
    for opener in (open_issue_store, open_user_store):
        for url in {URLS!r}:
            try:
                opener(url)
            except Exception as exc:
                errors.append([opener.__name__, url, type(exc).__name__, str(exc)])
            else:
                errors.append([opener.__name__, url, None, None])
    print(json.dumps(errors))
"""


@pytest.mark.parametrize(
    ("missing", "extras"),
    [
        ({"sqlalchemy"}, ["sql", "postgres"]),
        ({"aiosqlite"}, ["sql", None]),
        ({"asyncpg"}, [None, "postgres"]),
    ],
)
def test_a_database_url_without_its_extra_names_the_extra(
    missing: set[str], extras: list[str | None]
) -> None:
    result = run_without(missing, OPEN_EVERY_URL)
    assert result.returncode == 0, result.stderr
    answers = json.loads(result.stdout)
    assert len(answers) == 2 * len(URLS)
    for opener, url, kind, message in answers:
        extra = extras[URLS.index(url)]
        if extra is None:  # what is missing is not needed for this URL
            assert kind is None, (opener, url, message)
            continue
        assert kind == "ValueError", (opener, url, kind, message)
        [module] = missing
        assert f"need the '{extra}' extra ({module} is missing)" in message
        assert f"pip install 'fastapi-issues[{extra}]'" in message


def test_open_user_store_from_the_root_names_the_auth_extra() -> None:
    result = run_without(
        {"jwt", "pwdlib"},
        """
        import fastapi_issues
        assert fastapi_issues.open_issue_store("memory://") is not None
        try:
            from fastapi_issues import open_user_store
        except ImportError as exc:
            print("auth:", exc)
        """,
    )
    assert result.returncode == 0, result.stderr
    assert "auth: fastapi_issues.auth needs the 'auth' extra" in result.stdout
    assert 'pip install "fastapi-issues[auth]"' in result.stdout
