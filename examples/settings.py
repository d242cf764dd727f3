"""The example app's own settings, on pydantic-settings.

Read from the environment and a `.env` file in the working directory when an `AppSettings` is
made (in `create_app`, or once by `get_settings`), never at import. The auth settings
(`FASTAPI_ISSUES_SECRET_KEY` and the others) are the package's `AuthEnvSettings`, read the
same way when auth is on. `docs/example-app-settings.md` lists both, generated from the classes.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Annotated, Any

from pydantic import AliasChoices, Field, PositiveInt, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from fastapi_issues import DEFAULT_MAX_BODY_SIZE

ENV_PREFIX = "FASTAPI_ISSUES_"
DEFAULT_STORAGE_URL = "data/issues.json"
DEFAULT_CORS_ORIGINS = ("http://localhost:3000",)

_ON = {"1", "on", "true", "yes"}
_OFF = {"0", "off", "false", "no"}

# Comma-separated in the environment, not JSON: `a.example,b.example`.
CommaList = Annotated[list[str], NoDecode]


class AppSettings(BaseSettings):
    """Everything the example app reads besides the auth settings."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        env_ignore_empty=True,
        extra="ignore",
        populate_by_name=True,
    )

    storage_url: str = Field(
        default=DEFAULT_STORAGE_URL,
        # The name the CLI and the docs use; the prefixed one works too.
        validation_alias=AliasChoices("ISSUES_STORAGE_URL", ENV_PREFIX + "STORAGE_URL"),
        description=(
            "Where issues and users live: a JSON file path (users in `users.json` beside it), "
            "`memory://`, `sqlite:///issues.db` or `postgresql://user@host/db` (both in the "
            "same database)."
        ),
    )
    cors_origins: CommaList = Field(
        default=list(DEFAULT_CORS_ORIGINS),
        description="Comma-separated origins browsers may call the API from.",
    )
    max_body_bytes: PositiveInt = Field(
        default=DEFAULT_MAX_BODY_SIZE,
        description="Larger request bodies get 413.",
    )
    auth: bool = Field(
        default=True,
        description=(
            "`on` protects the issue routes with JWT bearer tokens from `POST /token`; `off` "
            "serves them to anyone (for benchmarks)."
        ),
    )
    registration: bool = Field(default=False, description="`on` serves `POST /register`.")
    throttle: bool = Field(
        default=True,
        description=(
            "`on` answers repeated failed logins per username and per client address with "
            "429 and `Retry-After`."
        ),
    )
    demo: bool = Field(
        default=False,
        description="`on` creates the demo user `johndoe` / `secret` at startup.",
    )
    admins: CommaList = Field(
        default_factory=list,
        description=(
            "Comma-separated usernames who may edit and delete any issue, and who alone may "
            "create, rename and delete labels, and who alone may register webhooks."
        ),
    )
    webhooks_allow_private: bool = Field(
        default=False,
        description=(
            "`on` lets webhooks call loopback, private and link-local addresses (intranets, "
            "tests); `off` refuses them at registration and at every delivery."
        ),
    )

    @field_validator(
        "auth", "registration", "throttle", "demo", "webhooks_allow_private", mode="before"
    )
    @classmethod
    def _on_or_off(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _ON | _OFF:
            return text in _ON
        name = cls.env_names(str(info.field_name))[0]
        raise ValueError(f"{name} must be on or off, not {value!r}")

    @field_validator("cors_origins", "admins", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @classmethod
    def env_names(cls, field_name: str) -> list[str]:
        """The environment variables a field is read from, the documented one first."""
        alias = cls.model_fields[field_name].validation_alias
        if isinstance(alias, AliasChoices):
            return [choice for choice in alias.choices if isinstance(choice, str)]
        return [ENV_PREFIX + field_name.upper()]

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> AppSettings:
        """Settings from `env` alone (any mapping): neither the process environment nor
        `.env` is read. Tests and embedders pass their own."""
        values: dict[str, Any] = {}
        for name, info in cls.model_fields.items():
            given = [env[key] for key in cls.env_names(name) if env.get(key)]
            # Every field is passed, so nothing falls through to the process environment.
            values[name] = given[0] if given else info.get_default(call_default_factory=True)
        values["_env_file"] = None
        return cls(**values)


@lru_cache
def get_settings() -> AppSettings:
    """The process's settings, read once on first use (FastAPI's `Depends(get_settings)`
    convention; tests override it or pass settings to `create_app`)."""
    return AppSettings()


def settings_table() -> str:
    """Every setting of the example app as a Markdown table (`python -m examples.settings`
    prints it; docs/example-app-settings.md holds it, and a test keeps the two equal)."""
    from fastapi_issues.auth import AuthEnvSettings

    rows = ["| Variable | Default | Meaning |", "| --- | --- | --- |"]
    for settings in (AppSettings, AuthEnvSettings):
        for name, info in settings.model_fields.items():
            names = settings.env_names(name)
            variable = " or ".join(f"`{n}`" for n in names)
            default = _shown(info.get_default(call_default_factory=True))
            rows.append(f"| {variable} | {default} | {info.description} |")
    return "\n".join(rows) + "\n"


def _shown(default: object) -> str:
    if default is None or default == []:
        return "unset"
    if isinstance(default, bool):
        return "`on`" if default else "`off`"
    if isinstance(default, list):
        return "`" + ",".join(str(item) for item in default) + "`"
    if isinstance(default, float) and default.is_integer():
        default = int(default)
    return f"`{default}`"


if __name__ == "__main__":
    print(settings_table(), end="")
