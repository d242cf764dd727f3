"""The `fastapi-issues` command, in process and once through the installed console script."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pwdlib import PasswordHash

from fastapi_issues.cli import main

BIN = Path(sys.executable).parent


@pytest.fixture
def issues_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "data" / "issues.json"
    monkeypatch.setenv("ISSUES_STORAGE_URL", str(path))
    return path


@pytest.fixture
def prompts(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Answers for getpass, in order; the test fills the list."""
    answers: list[str] = []
    asked: list[str] = []

    def fake_getpass(prompt: str = "Password: ") -> str:
        asked.append(prompt)
        return answers.pop(0)

    monkeypatch.setattr("getpass.getpass", fake_getpass)
    yield answers
    assert not answers, "not every prepared answer was asked for"


def stdin(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))


def users_file(issues_path: Path) -> list[dict[str, object]]:
    data = json.loads((issues_path.parent / "users.json").read_text())
    records: list[dict[str, object]] = data["records"]
    return records


def test_user_add_asks_twice_and_stores_an_argon2_hash(
    issues_path: Path, prompts: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    prompts.extend(["correct horse", "correct horse"])
    assert main(["user", "add", "ada", "--email", "ada@example.com", "--full-name", "Ada L"]) == 0
    assert "created user 'ada'" in capsys.readouterr().out
    [ada] = users_file(issues_path)
    assert ada["username"] == "ada"
    assert (ada["email"], ada["full_name"], ada["disabled"]) == ("ada@example.com", "Ada L", False)
    hashed = str(ada["hashed_password"])
    assert hashed.startswith("$argon2id$")
    assert PasswordHash.recommended().verify("correct horse", hashed)


def test_user_add_reads_the_password_from_stdin(
    issues_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stdin(monkeypatch, "pass word with spaces \n")
    assert main(["user", "add", "bob", "--password-stdin"]) == 0
    [bob] = users_file(issues_path)
    assert PasswordHash.recommended().verify("pass word with spaces ", str(bob["hashed_password"]))


def test_storage_url_option_beats_the_environment(
    tmp_path: Path, issues_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "elsewhere" / "issues.json"
    stdin(monkeypatch, "long enough\n")
    assert main(["user", "add", "carol", "--password-stdin", "--storage-url", str(other)]) == 0
    assert (other.parent / "users.json").exists()
    assert not (issues_path.parent / "users.json").exists()


def test_default_store_is_data_issues_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ISSUES_STORAGE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    stdin(monkeypatch, "long enough\n")
    assert main(["user", "add", "dave", "--password-stdin"]) == 0
    assert (tmp_path / "data" / "users.json").exists()


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        (["", ""], "the password is empty"),
        (["correct horse", "correct hose"], "the passwords do not match"),
        (["short", "short"], "at least 8 characters"),
    ],
    ids=["empty", "mismatch", "short"],
)
def test_user_add_refuses_bad_passwords(
    issues_path: Path,
    prompts: list[str],
    capsys: pytest.CaptureFixture[str],
    answers: list[str],
    message: str,
) -> None:
    prompts.extend(answers if answers[0] else answers[:1])
    assert main(["user", "add", "ada"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("fastapi-issues: error: ")
    assert message in err
    assert not (issues_path.parent / "users.json").exists()


def test_an_empty_password_from_stdin_is_refused(
    issues_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stdin(monkeypatch, "\n")
    assert main(["user", "add", "ada", "--password-stdin"]) == 1
    assert "the password is empty" in capsys.readouterr().err


def test_user_add_refuses_an_existing_user_before_asking(
    issues_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    prompts: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    stdin(monkeypatch, "first password\n")
    assert main(["user", "add", "ada", "--password-stdin"]) == 0
    before = users_file(issues_path)
    assert main(["user", "add", "ada"]) == 1  # `prompts` is empty: asking would fail
    assert "a user named 'ada' already exists" in capsys.readouterr().err
    assert users_file(issues_path) == before


def test_user_add_refuses_another_case_of_an_existing_name_before_asking(
    issues_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    prompts: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Issue 16, finding 3.
    stdin(monkeypatch, "first password\n")
    assert main(["user", "add", "ada", "--password-stdin"]) == 0
    before = users_file(issues_path)
    assert main(["user", "add", "ADA"]) == 1  # `prompts` is empty: asking would fail
    assert "the name 'ADA' is taken by the user 'ada'" in capsys.readouterr().err
    assert users_file(issues_path) == before


def test_user_add_refuses_unstorable_text(
    issues_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Issue 16, finding 7: NUL is the client's mistake, not a store failure.
    assert main(["user", "add", "ada", "--full-name", "Ada\x00"]) == 1
    assert "full name: must not contain NUL characters" in capsys.readouterr().err
    stdin(monkeypatch, "a long password\x00\n")
    assert main(["user", "add", "ada", "--password-stdin"]) == 1
    err = capsys.readouterr().err
    assert "password: must not contain NUL characters" in err
    assert "a long password" not in err
    assert not (issues_path.parent / "users.json").exists()


def write_users(issues_path: Path, names: list[str]) -> None:
    """A users file as one written before names were unique case-insensitively."""
    hashed = PasswordHash.recommended().hash("correct horse")
    issues_path.parent.mkdir(parents=True, exist_ok=True)
    records = [{"username": name, "hashed_password": hashed} for name in names]
    (issues_path.parent / "users.json").write_text(json.dumps(records))


def test_user_check_lists_names_that_collide_and_fails(
    issues_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_users(issues_path, ["alice", "bob", "Alice", "ALICE", "Bob", "carol"])
    assert main(["user", "check"]) == 1
    out = capsys.readouterr().out
    assert "2 groups of usernames collide" in out
    assert "alice: 'ALICE', 'Alice', 'alice'" in out
    assert "bob: 'Bob', 'bob'" in out
    assert "carol" not in out
    # Nothing was changed.
    assert [u["username"] for u in users_file(issues_path)] == [
        "alice",
        "bob",
        "Alice",
        "ALICE",
        "Bob",
        "carol",
    ]


def test_user_check_passes_when_no_names_collide(
    issues_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_users(issues_path, ["alice", "bob"])
    assert main(["user", "check"]) == 0
    assert "2 users; no usernames collide" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["has space"], "username"),
        (["ada", "--email", "not-an-email"], "email"),
    ],
)
def test_user_add_refuses_bad_details_before_asking(
    issues_path: Path,
    prompts: list[str],
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    field: str,
) -> None:
    assert main(["user", "add", *args]) == 1
    assert f"error: {field}:" in capsys.readouterr().err


def test_disable_enable_and_list(
    issues_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("bob", "ada"):
        stdin(monkeypatch, "long enough\n")
        assert (
            main(["user", "add", name, "--password-stdin", "--email", f"{name}@example.com"]) == 0
        )
    assert main(["user", "disable", "bob"]) == 0
    assert "disabled user 'bob'" in capsys.readouterr().out
    assert main(["user", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["USERNAME", "EMAIL", "FULL", "NAME", "STATUS"]
    assert lines[1].split() == ["ada", "ada@example.com", "-", "active"]
    assert lines[2].split() == ["bob", "bob@example.com", "-", "disabled"]
    assert "argon2" not in "\n".join(lines)
    assert main(["user", "enable", "bob"]) == 0
    assert [u["disabled"] for u in users_file(issues_path)] == [False, False]


def test_disable_unknown_user_fails(
    issues_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stdin(monkeypatch, "long enough\n")
    main(["user", "add", "ada", "--password-stdin"])
    assert main(["user", "disable", "nobody"]) == 1
    assert "no user named 'nobody'" in capsys.readouterr().err


@pytest.mark.parametrize("command", [["user", "list"], ["user", "disable", "ada"]])
def test_a_missing_store_is_an_error(
    issues_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    assert main(command) == 1
    err = capsys.readouterr().err
    assert "no users file at" in err
    assert "users.json" in err
    assert not issues_path.parent.exists()


def test_a_corrupt_store_is_an_error(issues_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    issues_path.parent.mkdir(parents=True)
    (issues_path.parent / "users.json").write_text("{not json")
    assert main(["user", "list"]) == 1
    assert "not valid JSON" in capsys.readouterr().err


def test_an_unknown_storage_scheme_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["user", "list", "--storage-url", "ftp://example/issues.json"]) == 1
    assert "unsupported user store URL scheme 'ftp'" in capsys.readouterr().err


def test_secret_prints_a_fresh_long_secret(capsys: pytest.CaptureFixture[str]) -> None:
    from fastapi_issues.auth import AuthSettings

    assert main(["secret"]) == 0
    first = capsys.readouterr().out.strip()
    assert main(["secret"]) == 0
    second = capsys.readouterr().out.strip()
    assert first != second
    assert len(first) == 64
    AuthSettings(secret_key=first, algorithm="HS512")  # long enough even for HS512


def test_usage_errors_exit_with_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert main(["user"]) == 2
    assert main(["user", "add"]) == 2
    assert main(["frobnicate"]) == 2
    assert "usage: fastapi-issues" in capsys.readouterr().err
    assert main(["--help"]) == 0


@pytest.mark.slow
def test_the_console_script_works(tmp_path: Path) -> None:
    script = BIN / "fastapi-issues"
    assert script.exists(), "the package is not installed with its console script"
    env = {**os.environ, "ISSUES_STORAGE_URL": str(tmp_path / "issues.json")}
    added = subprocess.run(
        [str(script), "user", "add", "ada", "--password-stdin", "--full-name", "Ada"],
        input="correct horse\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert added.returncode == 0, added.stderr
    listed = subprocess.run(
        [str(script), "user", "list"], capture_output=True, text=True, env=env, timeout=60
    )
    assert listed.returncode == 0
    assert listed.stdout.splitlines()[1].split() == ["ada", "-", "Ada", "active"]
    again = subprocess.run(
        [str(script), "user", "add", "ada", "--password-stdin"],
        input="correct horse\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert again.returncode == 1
    assert "already exists" in again.stderr
