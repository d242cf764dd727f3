"""`AuthSettings`: from arguments and from the environment (`from_env`, `AuthEnvSettings`),
and what it refuses."""

from __future__ import annotations

import logging
import os
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from fastapi_issues.auth.settings import (
    AuthEnvSettings,
    AuthSettings,
    AuthSettingsError,
    generate_secret,
)

KEY = "k" * 32


def test_defaults_follow_the_crash_course() -> None:
    settings = AuthSettings(secret_key=KEY)
    assert settings.algorithm == "HS256"
    assert settings.token_lifetime == timedelta(minutes=30)
    assert settings.issuer is None
    assert settings.audience is None


def test_from_env_reads_every_setting() -> None:
    settings = AuthSettings.from_env(
        {
            "FASTAPI_ISSUES_SECRET_KEY": "s" * 64,
            "FASTAPI_ISSUES_ALGORITHM": "HS512",
            "FASTAPI_ISSUES_TOKEN_MINUTES": "90",
            "FASTAPI_ISSUES_TOKEN_ISSUER": "https://issues.example",
            "FASTAPI_ISSUES_TOKEN_AUDIENCE": "issues-api",
        }
    )
    assert settings == AuthSettings(
        secret_key="s" * 64,
        algorithm="HS512",
        token_lifetime=timedelta(minutes=90),
        issuer="https://issues.example",
        audience="issues-api",
    )


def test_from_env_without_a_secret_is_refused_by_default() -> None:
    with pytest.raises(AuthSettingsError, match="FASTAPI_ISSUES_SECRET_KEY is not set"):
        AuthSettings.from_env({})
    with pytest.raises(AuthSettingsError, match="FASTAPI_ISSUES_SECRET_KEY is not set"):
        AuthSettings.from_env({"FASTAPI_ISSUES_SECRET_KEY": ""})


def test_from_env_can_make_a_random_secret_and_says_what_that_means(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="fastapi_issues.auth"):
        first = AuthSettings.from_env({}, random_secret_if_missing=True)
        second = AuthSettings.from_env({}, random_secret_if_missing=True)
    assert first.secret_key != second.secret_key
    assert len(first.secret_key) >= 32
    warning = caplog.records[0].getMessage()
    assert "random secret for this process" in warning
    assert "restarts" in warning
    assert "other workers" in warning
    assert str(first.secret_key) not in caplog.text


@pytest.mark.parametrize(("algorithm", "minimum"), [("HS256", 32), ("HS384", 48), ("HS512", 64)])
def test_a_key_shorter_than_the_hash_is_refused(algorithm: str, minimum: int) -> None:
    AuthSettings(secret_key="k" * minimum, algorithm=algorithm)
    AuthSettings(secret_key=b"k" * minimum, algorithm=algorithm)
    with pytest.raises(AuthSettingsError, match=r"RFC 7518 §3\.2") as caught:
        AuthSettings(secret_key="k" * (minimum - 1), algorithm=algorithm)
    assert f"{minimum - 1} bytes" in str(caught.value)
    assert f"at least {minimum}" in str(caught.value)


def test_key_length_counts_bytes_not_characters() -> None:
    with pytest.raises(AuthSettingsError):
        AuthSettings(secret_key="k" * 31)
    AuthSettings(secret_key="é" * 16)  # 32 bytes in UTF-8


def test_the_secret_is_refused_from_env_too() -> None:
    with pytest.raises(AuthSettingsError, match="needs at least 32"):
        AuthSettings.from_env({"FASTAPI_ISSUES_SECRET_KEY": "too-short"})


@pytest.mark.parametrize("algorithm", ["none", "RS256", "hs256", ""])
def test_only_hmac_algorithms_are_accepted(algorithm: str) -> None:
    with pytest.raises(AuthSettingsError, match="unsupported token algorithm"):
        AuthSettings(secret_key="k" * 64, algorithm=algorithm or "none")


@pytest.mark.parametrize("minutes", ["abc", "0", "-5", "nan", "inf", "1e30"])
def test_a_bad_token_lifetime_is_refused(minutes: str) -> None:
    env = {"FASTAPI_ISSUES_SECRET_KEY": KEY, "FASTAPI_ISSUES_TOKEN_MINUTES": minutes}
    with pytest.raises(AuthSettingsError, match="FASTAPI_ISSUES_TOKEN_MINUTES"):
        AuthSettings.from_env(env)
    with pytest.raises(AuthSettingsError, match="lifetime must be positive"):
        AuthSettings(secret_key=KEY, token_lifetime=timedelta(0))


def test_fractional_minutes_are_allowed() -> None:
    env = {"FASTAPI_ISSUES_SECRET_KEY": KEY, "FASTAPI_ISSUES_TOKEN_MINUTES": "0.5"}
    assert AuthSettings.from_env(env).token_lifetime == timedelta(seconds=30)


def test_the_secret_never_appears_in_repr() -> None:
    secret = generate_secret()
    settings = AuthSettings(secret_key=secret)
    assert secret not in repr(settings)
    assert secret not in str(settings)


def test_generated_secrets_are_long_and_fresh() -> None:
    secrets = {generate_secret() for _ in range(20)}
    assert len(secrets) == 20
    assert all(len(s.encode()) >= 64 for s in secrets)


# -- AuthEnvSettings: the pydantic-settings way -------------------------------------------


@pytest.fixture
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working directory (no `.env`) and no FASTAPI_ISSUES_* variable set."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("FASTAPI_ISSUES_"):
            monkeypatch.delenv(name)
    return tmp_path


def test_env_settings_read_the_environment_when_made(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FASTAPI_ISSUES_SECRET_KEY", "s" * 64)
    monkeypatch.setenv("FASTAPI_ISSUES_ALGORITHM", "HS512")
    monkeypatch.setenv("FASTAPI_ISSUES_TOKEN_MINUTES", "90")
    monkeypatch.setenv("FASTAPI_ISSUES_TOKEN_AUDIENCE", "issues-api")
    monkeypatch.setenv("FASTAPI_ISSUES_TOKEN_ISSUER", "")  # empty counts as unset
    assert AuthEnvSettings().auth_settings() == AuthSettings(
        secret_key="s" * 64,
        algorithm="HS512",
        token_lifetime=timedelta(minutes=90),
        audience="issues-api",
    )


def test_env_settings_read_a_dot_env_file_below_the_environment(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (clean_env / ".env").write_text(
        f"FASTAPI_ISSUES_SECRET_KEY={'d' * 32}\nFASTAPI_ISSUES_TOKEN_MINUTES=5\nOTHER_APP=1\n"
    )
    from_file = AuthEnvSettings().auth_settings()
    assert from_file.secret_key == "d" * 32
    assert from_file.token_lifetime == timedelta(minutes=5)
    monkeypatch.setenv("FASTAPI_ISSUES_TOKEN_MINUTES", "7")
    assert AuthEnvSettings().auth_settings().token_lifetime == timedelta(minutes=7)


def test_env_settings_refuse_a_bad_value_naming_it(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FASTAPI_ISSUES_TOKEN_MINUTES", "soon")
    with pytest.raises(ValidationError, match=r"token_minutes[\s\S]*number of minutes, not 'soon'"):
        AuthEnvSettings()


def test_env_settings_without_a_secret_refuse_or_make_one(clean_env: Path) -> None:
    with pytest.raises(AuthSettingsError, match="FASTAPI_ISSUES_SECRET_KEY is not set"):
        AuthEnvSettings().auth_settings()
    assert len(AuthEnvSettings().auth_settings(random_secret_if_missing=True).secret_key) >= 32


def test_from_env_reads_only_the_mapping(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FASTAPI_ISSUES_SECRET_KEY", KEY)
    (clean_env / ".env").write_text(f"FASTAPI_ISSUES_SECRET_KEY={KEY}\n")
    with pytest.raises(AuthSettingsError, match="FASTAPI_ISSUES_SECRET_KEY is not set"):
        AuthSettings.from_env({})
    assert AuthEnvSettings.from_env({}).secret_key is None


def test_env_settings_keep_the_secret_out_of_repr(clean_env: Path) -> None:
    secret = generate_secret()
    settings = AuthEnvSettings.from_env({"FASTAPI_ISSUES_SECRET_KEY": secret})
    assert secret not in repr(settings)
    assert secret not in str(settings.model_dump())
