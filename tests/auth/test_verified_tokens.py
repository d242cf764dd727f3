"""Verified tokens are remembered, but never past their expiry and never unverified."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from fastapi_issues.auth.dependencies import _VerifiedTokens
from fastapi_issues.auth.settings import AuthSettings
from fastapi_issues.auth.tokens import InvalidToken, create_access_token

SETTINGS = AuthSettings(secret_key="k" * 40)


def _token(subject: str = "ada", *, lifetime: timedelta = timedelta(minutes=5)) -> str:
    now = datetime.now(UTC)
    return create_access_token(subject, SETTINGS, now=now - SETTINGS.token_lifetime + lifetime)


def test_a_token_is_verified_once_and_then_remembered(monkeypatch: pytest.MonkeyPatch) -> None:
    from fastapi_issues.auth import dependencies

    decoded: list[str] = []
    real = dependencies.decode_access_token

    def counting(token: str, settings: AuthSettings) -> dict[str, object]:
        decoded.append(token)
        return real(token, settings)

    monkeypatch.setattr(dependencies, "decode_access_token", counting)
    tokens = _VerifiedTokens(SETTINGS)
    token = _token()
    assert tokens.claims(token)["sub"] == "ada"
    assert tokens.claims(token)["sub"] == "ada"
    assert decoded == [token]


def test_a_remembered_token_expires_on_time() -> None:
    tokens = _VerifiedTokens(SETTINGS)
    token = _token(lifetime=timedelta(seconds=1))
    assert tokens.claims(token)["sub"] == "ada"
    time.sleep(1.1)
    with pytest.raises(InvalidToken):
        tokens.claims(token)


def test_forged_tokens_are_never_remembered() -> None:
    tokens = _VerifiedTokens(SETTINGS)
    token = _token()
    tokens.claims(token)
    header, payload, signature = token.split(".")
    forged = f"{header}.{payload}.{signature[:-2]}AA"
    for _ in range(2):
        with pytest.raises(InvalidToken):
            tokens.claims(forged)


def test_only_the_newest_are_kept() -> None:
    tokens = _VerifiedTokens(SETTINGS, size=2)
    first, second, third = (_token(name) for name in ("ada", "bob", "cy"))
    for token in (first, second, third):
        tokens.claims(token)
    assert list(tokens._claims) == [second, third]
    assert tokens.claims(first)["sub"] == "ada"  # verified again, not refused
