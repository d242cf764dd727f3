"""`AuthSettings`: how tokens are signed and checked. Built from arguments or from an env
mapping, never from globals at import time."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

__all__ = ["AuthSettings", "AuthSettingsError", "generate_secret"]

_log = logging.getLogger("fastapi_issues.auth")

ENV_PREFIX = "FASTAPI_ISSUES_"

# RFC 7518 §3.2: an HMAC key must be at least as long as the hash output.
_MIN_KEY_BYTES = {"HS256": 32, "HS384": 48, "HS512": 64}


class AuthSettingsError(ValueError):
    """The auth settings are missing or unusable; the message says which and why."""


def generate_secret() -> str:
    """A fresh random signing secret (64 URL-safe characters, 384 bits)."""
    return secrets.token_urlsafe(48)


@dataclass(frozen=True)
class AuthSettings:
    """How access tokens are signed and checked.

    Args:
        secret_key: the HMAC signing key, at least as many bytes as the algorithm's hash
            (32 for HS256); shorter keys are refused (RFC 7518 §3.2). Generate one with
            `fastapi-issues secret`. It never appears in `repr`.
        algorithm: `HS256` (default), `HS384` or `HS512`. Tokens are only ever accepted with
            this algorithm, whatever their header says.
        token_lifetime: how long an access token is valid (30 minutes by default).
        issuer: when set, put in `iss` and required on every token.
        audience: when set, put in `aud` and required on every token.
    """

    secret_key: str | bytes = field(repr=False)
    algorithm: str = "HS256"
    token_lifetime: timedelta = timedelta(minutes=30)
    issuer: str | None = None
    audience: str | None = None

    def __post_init__(self) -> None:
        minimum = _MIN_KEY_BYTES.get(self.algorithm)
        if minimum is None:
            raise AuthSettingsError(
                f"unsupported token algorithm {self.algorithm!r}; "
                f"use one of {', '.join(_MIN_KEY_BYTES)}"
            )
        key = self.secret_key
        length = len(key.encode("utf-8") if isinstance(key, str) else key)
        if length < minimum:
            raise AuthSettingsError(
                f"the secret key is {length} bytes long; {self.algorithm} needs at least "
                f"{minimum} (RFC 7518 §3.2). Generate one with `fastapi-issues secret`."
            )
        if self.token_lifetime <= timedelta(0):
            raise AuthSettingsError("the token lifetime must be positive")

    @classmethod
    def from_env(
        cls, env: Mapping[str, str], *, random_secret_if_missing: bool = False
    ) -> AuthSettings:
        """Settings from environment variables (pass `os.environ` or any mapping).

        - `FASTAPI_ISSUES_SECRET_KEY`: the signing key (required, see below);
        - `FASTAPI_ISSUES_ALGORITHM`: `HS256` (default), `HS384` or `HS512`;
        - `FASTAPI_ISSUES_TOKEN_MINUTES`: token lifetime in minutes (default 30);
        - `FASTAPI_ISSUES_TOKEN_ISSUER`, `FASTAPI_ISSUES_TOKEN_AUDIENCE`: optional.

        Without a secret key this raises `AuthSettingsError`, unless
        `random_secret_if_missing` is true: then a random key is made for this process and a
        warning logged, since its tokens die with the process and are refused by every other
        worker.
        """
        secret = env.get(ENV_PREFIX + "SECRET_KEY", "")
        if not secret:
            if not random_secret_if_missing:
                raise AuthSettingsError(
                    f"{ENV_PREFIX}SECRET_KEY is not set. Generate one with `fastapi-issues secret`."
                )
            _log.warning(
                "%sSECRET_KEY is not set: using a random secret for this process only. "
                "Tokens stop working when the process restarts and are refused by other "
                "workers. Set %sSECRET_KEY (see `fastapi-issues secret`) in production.",
                ENV_PREFIX,
                ENV_PREFIX,
            )
            secret = generate_secret()
        minutes_text = env.get(ENV_PREFIX + "TOKEN_MINUTES", "30")
        try:
            minutes = float(minutes_text)
        except ValueError:
            raise AuthSettingsError(
                f"{ENV_PREFIX}TOKEN_MINUTES must be a number of minutes, not {minutes_text!r}"
            ) from None
        try:
            lifetime = timedelta(minutes=minutes)
        except (OverflowError, ValueError):  # infinity, NaN, too many minutes
            lifetime = timedelta(0)
        if lifetime <= timedelta(0):
            raise AuthSettingsError(
                f"{ENV_PREFIX}TOKEN_MINUTES must be a positive number of minutes, "
                f"not {minutes_text!r}"
            )
        return cls(
            secret_key=secret,
            algorithm=env.get(ENV_PREFIX + "ALGORITHM", "HS256") or "HS256",
            token_lifetime=lifetime,
            issuer=env.get(ENV_PREFIX + "TOKEN_ISSUER") or None,
            audience=env.get(ENV_PREFIX + "TOKEN_AUDIENCE") or None,
        )
