"""The example app's settings: pydantic-settings from the environment and `.env`, read when the
app is built, never at import; the old variable names still work."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from examples.app import create_app
from examples.settings import AppSettings, get_settings
from pydantic import ValidationError

from fastapi_issues import DEFAULT_MAX_BODY_SIZE
from tests.servers import ROOT

pytestmark = pytest.mark.anyio


@pytest.fixture
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty working directory and none of the app's variables set."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("FASTAPI_ISSUES_") or name == "ISSUES_STORAGE_URL":
            monkeypatch.delenv(name)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_importing_the_app_reads_no_setting(tmp_path: Path) -> None:
    """No secret, bad values everywhere: the import works, the first use of `app` says why."""
    code = textwrap.dedent(
        """
        import examples.app, examples.settings
        print("imported")
        examples.app.app
        """
    )
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("FASTAPI_ISSUES_")},
        "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}",
        "ISSUES_STORAGE_URL": str(tmp_path / "data" / "issues.json"),
        "FASTAPI_ISSUES_AUTH": "maybe",
    }
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=60,
    )
    assert result.stdout == "imported\n", result.stderr
    assert "FASTAPI_ISSUES_AUTH must be on or off, not 'maybe'" in result.stderr
    assert not (tmp_path / "data").exists()


def test_every_old_variable_name_still_works() -> None:
    settings = AppSettings.from_env(
        {
            "ISSUES_STORAGE_URL": "memory://",
            "FASTAPI_ISSUES_CORS_ORIGINS": "https://a.example, https://b.example",
            "FASTAPI_ISSUES_MAX_BODY_BYTES": "2048",
            "FASTAPI_ISSUES_AUTH": "off",
            "FASTAPI_ISSUES_REGISTRATION": "on",
            "FASTAPI_ISSUES_THROTTLE": "0",
            "FASTAPI_ISSUES_DEMO": "1",
            "FASTAPI_ISSUES_ADMINS": "ada, grace",
        }
    )
    assert settings == AppSettings(
        storage_url="memory://",
        cors_origins=["https://a.example", "https://b.example"],
        max_body_bytes=2048,
        auth=False,
        registration=True,
        throttle=False,
        demo=True,
        admins=["ada", "grace"],
    )


def test_the_storage_url_also_has_a_prefixed_name() -> None:
    prefixed = AppSettings.from_env({"FASTAPI_ISSUES_STORAGE_URL": "memory://"})
    assert prefixed.storage_url == "memory://"


def test_from_env_reads_the_mapping_alone(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FASTAPI_ISSUES_AUTH", "off")
    (clean_env / ".env").write_text("ISSUES_STORAGE_URL=memory://\n")
    assert AppSettings.from_env({}) == AppSettings.from_env({"FASTAPI_ISSUES_AUTH": "on"})
    assert AppSettings.from_env({}).storage_url == "data/issues.json"


def test_bad_values_name_the_variable() -> None:
    with pytest.raises(ValidationError, match="FASTAPI_ISSUES_DEMO must be on or off"):
        AppSettings.from_env({"FASTAPI_ISSUES_DEMO": "perhaps"})
    with pytest.raises(ValidationError, match="max_body_bytes"):
        AppSettings.from_env({"FASTAPI_ISSUES_MAX_BODY_BYTES": "0"})
    assert AppSettings.from_env({}).max_body_bytes == DEFAULT_MAX_BODY_SIZE


async def test_create_app_reads_the_environment_and_dot_env_when_called(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (clean_env / ".env").write_text(
        "ISSUES_STORAGE_URL=memory://\n"
        "FASTAPI_ISSUES_AUTH=off\n"
        "FASTAPI_ISSUES_CORS_ORIGINS=https://from-dotenv.example\n"
    )
    monkeypatch.setenv("FASTAPI_ISSUES_CORS_ORIGINS", "https://from-env.example")
    app = create_app()
    assert "/token" not in app.openapi()["paths"]  # auth off, from .env
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        for origin, allowed in [
            ("https://from-env.example", True),
            ("https://from-dotenv.example", False),
        ]:
            response = await client.get("/health", headers={"Origin": origin})
            assert ("Access-Control-Allow-Origin" in response.headers) is allowed
    assert not (clean_env / "data").exists()  # memory://, from .env


def test_the_served_app_is_built_once_from_get_settings(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import examples.app as module

    monkeypatch.setenv("ISSUES_STORAGE_URL", "memory://")
    monkeypatch.setenv("FASTAPI_ISSUES_AUTH", "off")
    module._served_app.cache_clear()
    try:
        assert module.app is module.app
        assert get_settings().storage_url == "memory://"
        assert "/token" not in module.app.openapi()["paths"]
    finally:
        module._served_app.cache_clear()


def test_fastapi_dev_finds_the_app(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`fastapi dev examples/app.py` discovers `app`, though it is built on first use."""
    import examples.app as module
    from fastapi_cli.discover import get_import_data

    monkeypatch.setenv("ISSUES_STORAGE_URL", "memory://")
    monkeypatch.setenv("FASTAPI_ISSUES_AUTH", "off")
    module._served_app.cache_clear()
    try:
        found = get_import_data(path=ROOT / "examples" / "app.py")
        assert (found.module_data.module_import_str, found.app_name) == ("examples.app", "app")
    finally:
        module._served_app.cache_clear()
