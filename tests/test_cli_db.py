"""`fastapi-issues db upgrade|current|history`: the SQL tables' revisions."""

from __future__ import annotations

import asyncio
import io
import sqlite3
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from fastapi_issues.cli import main
from fastapi_issues.storage.errors import StorageError
from fastapi_issues.storage.sql import SQLIssueStore, _migrations
from tests.storage.sql.release_0_1_0 import extract_release, write_with_release
from tests.storage.sql.test_migrations import NEXT_REVISION, add_next_revision

pytestmark = pytest.mark.anyio

_REVISION_2 = (
    "Issues get an optional due date (`due_date`), with an index for its filters and sort."
)
_REVISION_3 = "The event log: `issue_events`, and `issue_event_ids`, which numbers its events."
_REVISION_4 = "Webhooks: `hooks`, their `hook_deliveries`, and the delivery lease `hook_lease`."
USERS_0002 = (
    "Usernames unique by their normalised key, token revocation, stored admins, login counts."
)


@pytest.fixture(scope="session")
def release_src(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return extract_release(tmp_path_factory.mktemp("release-0.1.0"))


async def run(*argv: str) -> int:
    # `main` runs its own event loop, so off this test's.
    return await asyncio.to_thread(main, list(argv))


async def test_upgrade_stamps_a_sqlite_file_of_0_1_0(
    tmp_path: Path, release_src: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'issues.db'}"
    before = write_with_release(release_src, url)
    assert await run("db", "current", "--url", url) == 0
    assert capsys.readouterr().out.splitlines() == [
        "issues_0001",
        "users_0001",
        "older than this release: issues, users",
        "made by 0.1.0; `db upgrade` records its revisions",
    ]
    assert await run("db", "upgrade", "--url", url) == 0
    assert capsys.readouterr().out.splitlines() == [
        "stamped issues_0001",
        "stamped users_0001",
        f"applied issues_0002: {_REVISION_2}",
        f"applied issues_0003: {_REVISION_3}",
        f"applied issues_0004: {_REVISION_4}",
        "applied users_0002: " + USERS_0002,
        "at: issues_0004, users_0002",
    ]
    assert await run("db", "current", "--url", url) == 0
    assert capsys.readouterr().out.splitlines() == ["issues_0004", "users_0002"]
    assert await run("db", "upgrade", "--url", url) == 0
    assert "already at this release" in capsys.readouterr().out
    with sqlite3.connect(tmp_path / "issues.db") as conn:
        titles = [row[0] for row in conn.execute("SELECT title FROM issues ORDER BY seq")]
    assert titles == [issue["title"] for issue in before["issues"]]


async def test_upgrade_applies_each_revision_on_postgres_and_shows_no_password(
    postgres_url: str,
    postgres_schema: str,
    release_src: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = write_with_release(release_src, postgres_url, postgres_schema)
    location = add_next_revision(tmp_path / "revisions")
    monkeypatch.setattr(
        _migrations, "VERSION_LOCATIONS", (*_migrations.VERSION_LOCATIONS, location)
    )
    # The test server trusts any password: one is given to see it is never shown.
    url = make_url(postgres_url).set(password="sekrit-word").render_as_string(False)
    store = SQLIssueStore(url, schema=postgres_schema)
    try:
        with pytest.raises(StorageError, match="run: fastapi-issues db upgrade --url"):
            await store.create_schema()
    finally:
        await store.aclose()
    assert await run("db", "upgrade", "--url", url, "--schema", postgres_schema) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [
        "stamped issues_0001",
        "stamped users_0001",
        f"applied issues_0002: {_REVISION_2}",
        f"applied issues_0003: {_REVISION_3}",
        f"applied issues_0004: {_REVISION_4}",
        f"applied {NEXT_REVISION}: A test revision.",
        "applied users_0002: " + USERS_0002,
        f"at: {NEXT_REVISION}, users_0002",
    ]
    assert "sekrit-word" not in captured.out + captured.err
    store = SQLIssueStore(url, schema=postgres_schema)
    try:
        issue = await store.get(before["issues"][0]["id"])
        assert issue.model_dump(mode="json") == {**before["issues"][0], "due_date": None}
    finally:
        await store.aclose()


async def test_the_url_defaults_to_the_app_storage_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ISSUES_STORAGE_URL", f"sqlite:///{tmp_path / 'issues.db'}")
    assert await run("db", "upgrade") == 0
    assert capsys.readouterr().out.splitlines() == [
        "applied issues_0001: The issue tables of fastapi-issues 0.1.0: issues, assignees, "
        "labels, comments.",
        f"applied issues_0002: {_REVISION_2}",
        f"applied issues_0003: {_REVISION_3}",
        f"applied issues_0004: {_REVISION_4}",
        "applied users_0001: The users table of fastapi-issues 0.1.0 (`SQLUserStore`).",
        "applied users_0002: " + USERS_0002,
        "at: issues_0004, users_0002",
    ]
    assert await run("db", "current") == 0
    assert capsys.readouterr().out.splitlines() == ["issues_0004", "users_0002"]


async def test_history_lists_every_branch(capsys: pytest.CaptureFixture[str]) -> None:
    assert await run("db", "history") == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "issues_0003 -> issues_0004 (issues)",
        "issues_0002 -> issues_0003 (issues)",
        "issues_0001 -> issues_0002 (issues)",
        "base -> issues_0001 (issues)",
        "users_0001 -> users_0002 (users)",
        "base -> users_0001 (users)",
    ]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--url", "data/issues.json"], "need a SQL database URL"),
        (["--url", "memory://"], "need a SQL database URL"),
        ([], "give --url, or set $ISSUES_STORAGE_URL"),
        (["--url", "postgresql://ada:sekrit-word@127.0.0.1:1/x"], "cannot reach the database"),
    ],
)
async def test_bad_urls_are_refused_without_showing_a_password(
    argv: list[str],
    message: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("ISSUES_STORAGE_URL", raising=False)
    for action in ("upgrade", "current"):
        assert await run("db", action, *argv) == 1
        captured = capsys.readouterr()
        assert message in captured.err
        assert "sekrit-word" not in captured.out + captured.err


async def test_current_on_a_missing_sqlite_file_says_so_and_makes_no_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "typo.db"
    assert await run("db", "current", "--url", f"sqlite:///{missing}") == 1
    assert f"no SQLite database at {missing}" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _revision_count() -> int:
    # Every revision this release knows: a new database gets each of them.
    from fastapi_issues.storage.sql import history

    return len(list(history()))


async def test_upgrade_counts_its_revisions_in_plain_lines_on_a_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    total = _revision_count()
    assert await run("db", "upgrade", "--url", f"sqlite:///{tmp_path / 'new.db'}") == 0
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == total + 1  # a line per revision, then "at:"
    first, last = captured.err.splitlines()
    assert first == f"revisions: 0/{total} (0%)"
    assert last.startswith(f"revisions: {total}/{total} (100%) in ")


async def test_upgrade_redraws_its_count_on_a_terminal_below_each_revision(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    total = _revision_count()
    assert await run("db", "upgrade", "--url", f"sqlite:///{tmp_path / 'new.db'}") == 0
    assert capsys.readouterr().out.startswith("applied ")
    drawn = terminal.getvalue()
    assert drawn.endswith("\n")
    assert drawn.count("\n") == 1
    # Before each revision's line goes out the count is blanked, then drawn again after it.
    draws = [part for part in drawn.removesuffix("\n").split("\r") if part.strip()]
    assert draws[0] == f"revisions: 0/{total} (0%)"
    assert draws[-1].startswith(f"revisions: {total}/{total} (100%) in ")
    blanks = [part for part in drawn.split("\r") if part and not part.strip()]
    assert len(blanks) == total
