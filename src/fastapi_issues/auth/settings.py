"""`AuthSettings`: how tokens are signed and checked. Built from arguments, or by
`AuthEnvSettings` (pydantic-settings) from the environment and `.env`, never from globals at
import time."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["AuthEnvSettings", "AuthSettings", "AuthSettingsError", "generate_secret"]

_log = logging.getLogger("fastapi_issues.auth")

ENV_PREFIX = "FASTAPI_ISSUES_"

_Settings = TypeVar("_Settings", bound="AuthEnvSettings")

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
        """Settings from environment variables in `env` alone (pass `os.environ` or any
        mapping); the names and rules are `AuthEnvSettings`'s, but no `.env` file is read.

        Without a secret key this raises `AuthSettingsError`, unless
        `random_secret_if_missing` is true: then a random key is made for this process and a
        warning logged, since its tokens die with the process and are refused by every other
        worker.
        """
        return AuthEnvSettings.from_env(env).auth_settings(
            random_secret_if_missing=random_secret_if_missing
        )


class AuthEnvSettings(BaseSettings):
    """The environment's `AuthSettings`, the pydantic-settings way: read from
    `FASTAPI_ISSUES_*` environment variables and a `.env` file in the working directory when
    an instance is made (never at import), then turned into `AuthSettings`:

        settings = AuthEnvSettings().auth_settings()

    Empty variables count as unset. A bad value raises pydantic's `ValidationError` naming
    the field; `from_env` reads a mapping instead and raises `AuthSettingsError`.
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        env_ignore_empty=True,
        extra="ignore",
        populate_by_name=True,
    )

    secret_key: SecretStr | None = Field(
        default=None,
        description=(
            "The token signing key, at least 32 bytes for HS256 (48 for HS384, 64 for HS512); "
            "`fastapi-issues secret` makes one. Required, unless the app makes a random one "
            "per process."
        ),
    )
    algorithm: str = Field(default="HS256", description="`HS256`, `HS384` or `HS512`.")
    token_minutes: float = Field(
        default=30, description="How long an access token is valid, in minutes."
    )
    token_issuer: str | None = Field(
        default=None, description="Put in `iss` and required on every token, when set."
    )
    token_audience: str | None = Field(
        default=None, description="Put in `aud` and required on every token, when set."
    )

    @field_validator("token_minutes", mode="before")
    @classmethod
    def _positive_minutes(cls, value: Any) -> float:
        try:
            minutes = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"must be a number of minutes, not {value!r}") from None
        try:
            positive = timedelta(minutes=minutes) > timedelta(0)
        except (OverflowError, ValueError):  # infinity, NaN, too many minutes
            positive = False
        if not positive:
            raise ValueError(f"must be a positive number of minutes, not {value!r}")
        return minutes

    @classmethod
    def env_names(cls, field_name: str) -> list[str]:
        """The environment variables a field is read from, the first the documented one."""
        return env_names_of(cls.model_fields[field_name], field_name, ENV_PREFIX)

    @classmethod
    def from_env(cls: type[_Settings], env: Mapping[str, str]) -> _Settings:
        """Settings from `env` alone (any mapping of variable names to values): neither the
        process environment nor `.env` is read. Raises `AuthSettingsError` on a bad value."""
        values: dict[str, Any] = {}
        for name, info in cls.model_fields.items():
            given = [env[key] for key in cls.env_names(name) if env.get(key)]
            # Every field is passed, so nothing falls through to the process environment.
            values[name] = given[0] if given else info.get_default(call_default_factory=True)
        values["_env_file"] = None  # pydantic-settings' per-instance switch: no `.env`
        try:
            return cls(**values)
        except ValidationError as exc:
            raise AuthSettingsError(_first_problem(exc, cls)) from None

    def auth_settings(self, *, random_secret_if_missing: bool = False) -> AuthSettings:
        """These settings as `AuthSettings` (which checks the key's length and algorithm).

        Without a secret key this raises `AuthSettingsError`, unless
        `random_secret_if_missing` is true: then a random key is made for this process and a
        warning logged, since its tokens die with the process and are refused by every other
        worker.
        """
        secret = self.secret_key.get_secret_value() if self.secret_key is not None else ""
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
        return AuthSettings(
            secret_key=secret,
            algorithm=self.algorithm,
            token_lifetime=timedelta(minutes=self.token_minutes),
            issuer=self.token_issuer,
            audience=self.token_audience,
        )


def env_names_of(info: FieldInfo, field_name: str, prefix: str) -> list[str]:
    """The environment variables pydantic-settings reads a field from: its alias choices, or
    the prefix and its name in capitals."""
    alias = info.validation_alias
    if isinstance(alias, str):
        return [alias]
    if isinstance(alias, AliasChoices):
        return [choice for choice in alias.choices if isinstance(choice, str)]
    return [prefix + field_name.upper()]


def _first_problem(exc: ValidationError, settings: type[AuthEnvSettings]) -> str:
    error = exc.errors()[0]
    name = settings.env_names(str(error["loc"][0]))[0]
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{name} {message}"
