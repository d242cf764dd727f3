"""`fastapi-issues migrate --from URL --to URL`, run as the installed command."""

from __future__ import annotations

import io
import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from fastapi_issues.cli import main

ISSUES = [
    {
        "id": f"00000000-0000-4000-8000-00000000000{n}",
        "title": f"Issue {n}",
        "description": "From the crash course",
        "priority": "low",
        "status": "open",
    }
    for n in range(3)
]
USERS = [
    {
        "username": "johndoe",
        "full_name": "John Doe",
        "email": "johndoe@example.com",
        "hashed_password": "$argon2id$v=19$m=65536,t=3,p=4$fake",
        "disabled": False,
    }
]


def command() -> list[str]:
    found = shutil.which("fastapi-issues", path=str(Path(sys.executable).parent))
    assert found, "the fastapi-issues entry point is not installed"
    return [found]


@pytest.mark.slow
def test_migrate_json_to_sqlite_and_again(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "issues.json").write_text(json.dumps(ISSUES))
    (tmp_path / "data" / "users.json").write_text(json.dumps(USERS))
    args = [*command(), "migrate", "--from", "data/issues.json", "--to", "sqlite:///issues.db"]

    first = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == [
        "issues: 3 copied, 0 already there",
        "users: 1 copied, 0 already there",
    ]
    with sqlite3.connect(tmp_path / "issues.db") as conn:
        ids = [row[0] for row in conn.execute("SELECT id FROM issues ORDER BY seq")]
        hashes = conn.execute("SELECT hashed_password FROM users").fetchall()
    assert ids == [issue["id"] for issue in ISSUES]
    assert hashes == [(USERS[0]["hashed_password"],)]

    again = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines() == [
        "issues: 0 copied, 3 already there",
        "users: 0 copied, 1 already there",
    ]


def test_migrate_refuses_a_missing_source_and_one_store_twice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = str(tmp_path / "nope.json")
    assert main(["migrate", "--from", missing, "--to", f"sqlite:///{tmp_path}/x.db"]) == 1
    assert "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "x.db").exists()
    assert main(["migrate", "--from", missing, "--to", missing]) == 1
    assert "the same store" in capsys.readouterr().err


def test_migrate_can_leave_users_behind(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "issues.json").write_text(json.dumps(ISSUES))
    (tmp_path / "users.json").write_text(json.dumps(USERS))
    target = f"sqlite:///{tmp_path / 'issues.db'}"
    assert (
        main(["migrate", "--from", str(tmp_path / "issues.json"), "--to", target, "--no-users"])
        == 0
    )
    assert capsys.readouterr().out == "issues: 3 copied, 0 already there\n"
    with sqlite3.connect(tmp_path / "issues.db") as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    assert "users" not in tables


def test_migrate_shows_progress_on_standard_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "issues.json").write_text(json.dumps(ISSUES))
    (tmp_path / "users.json").write_text(json.dumps(USERS))
    target = f"sqlite:///{tmp_path / 'issues.db'}"
    assert main(["migrate", "--from", str(tmp_path / "issues.json"), "--to", target]) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [
        "issues: 3 copied, 0 already there",
        "users: 1 copied, 0 already there",
    ]
    # Not a terminal: plain lines, a first one and a last one per kind of record.
    lines = captured.err.splitlines()
    assert "\r" not in captured.err
    assert [line.split(" in ")[0] for line in lines] == [
        "labels: 0/0 (100%)",
        "issues: 0/3 (0%)",
        "issues: 3/3 (100%)",
        "comments: 0/0 (100%)",
        "users: 1/1 (100%)",
    ]
    assert all(" in " in line for line in [lines[0], *lines[2:]])


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_migrate_redraws_one_line_per_kind_on_a_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "issues.json").write_text(json.dumps(ISSUES))
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    target = f"sqlite:///{tmp_path / 'issues.db'}"
    source = str(tmp_path / "issues.json")
    assert main(["migrate", "--from", source, "--to", target, "--no-users"]) == 0
    assert capsys.readouterr().out == "issues: 3 copied, 0 already there\n"
    lines = terminal.getvalue().split("\n")
    assert lines[-1] == ""
    assert [line.split("\r")[-1].split(" in ")[0] for line in lines[:-1]] == [
        "labels: 0/0 (100%)",
        "issues: 3/3 (100%)",
        "comments: 0/0 (100%)",
    ]
    assert all(line.startswith("\r") for line in lines[:-1])
