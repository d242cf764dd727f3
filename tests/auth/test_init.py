"""The auth extra is optional: the core, the example app without auth and the CLI's `secret`
work without it, and `fastapi_issues.auth` says what to install."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import fastapi_issues.auth

ROOT = Path(__file__).resolve().parents[2]

BLOCK_AUTH_EXTRA = textwrap.dedent(
    """
    import sys

    class BlockAuthExtra:
        blocked = {"jwt", "pwdlib", "argon2", "multipart", "python_multipart"}

        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in self.blocked:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, BlockAuthExtra())
    """
)


def run_without_auth_extra(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", BLOCK_AUTH_EXTRA + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        # examples.app builds `app` from the environment on import.
        env={**os.environ, "FASTAPI_ISSUES_AUTH": "off", "ISSUES_STORAGE_URL": "memory://"},
        timeout=60,
    )


@pytest.mark.slow
def test_the_core_works_without_the_auth_extra() -> None:
    result = run_without_auth_extra(
        """
        import fastapi_issues, fastapi_issues.routers.issues, fastapi_issues.storage.urls
        import fastapi_issues.testing, fastapi_issues.cli
        from examples.app import create_app
        app = create_app({"ISSUES_STORAGE_URL": "memory://", "FASTAPI_ISSUES_AUTH": "off"})
        assert "/api/v1/issues" in app.openapi()["paths"]
        assert "jwt" not in sys.modules and "pwdlib" not in sys.modules
        try:
            import fastapi_issues.auth
        except ImportError as exc:
            print("auth:", exc)
        from fastapi_issues.cli import main
        assert main(["secret"]) == 0
        assert main(["user", "list", "--storage-url", "memory://"]) == 1
        """
    )
    assert result.returncode == 0, result.stderr
    assert "auth: fastapi_issues.auth needs the 'auth' extra" in result.stdout
    assert 'pip install "fastapi-issues[auth]"' in result.stdout
    assert "needs the 'auth' extra" in result.stderr  # from `user list`


def test_the_public_api_is_exported() -> None:
    for name in fastapi_issues.auth.__all__:
        assert getattr(fastapi_issues.auth, name) is not None
    assert sorted(fastapi_issues.auth.__all__) == fastapi_issues.auth.__all__
