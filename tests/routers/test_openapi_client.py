"""A client generated from our OpenAPI reads as verbs on nouns: `issues.create_issue`.

openapi-python-client names one module per operation after its `operationId`, in a package
per tag; ids like `issues:create` came out as `issuescreate`.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from examples.app import create_app

GENERATOR = Path(sys.executable).with_name("openapi-python-client")

EXPECTED = {
    "auth": {
        "log_in",
        "read_current_user",
        "register_user",
        "change_password",
        "log_out_everywhere",
    },
    "users": {
        "list_users",
        "create_user",
        "disable_user",
        "enable_user",
        "make_admin",
        "remove_admin",
    },
    "issues": {
        "list_issues",
        "create_issue",
        "get_issue",
        "replace_issue",
        "update_issue",
        "delete_issue",
    },
    "labels": {
        "list_labels",
        "create_label",
        "get_label",
        "update_label",
        "delete_label",
        "list_issue_labels",
        "set_issue_labels",
        "add_issue_labels",
        "remove_issue_label",
    },
    "comments": {
        "list_comments",
        "create_comment",
        "get_comment",
        "update_comment",
        "delete_comment",
    },
    "events": {"list_issue_events", "list_events", "stream_events"},
    "webhooks": {
        "list_hooks",
        "create_hook",
        "get_hook",
        "update_hook",
        "delete_hook",
        "ping_hook",
        "list_hook_deliveries",
        "get_hook_delivery",
        "redeliver_hook_delivery",
    },
    "health": {"health_check"},
}


@pytest.fixture
def generated(tmp_path: Path) -> Path:
    app = create_app(
        {
            "ISSUES_STORAGE_URL": str(tmp_path / "issues.json"),
            "FASTAPI_ISSUES_REGISTRATION": "on",
        }
    )
    spec = tmp_path / "openapi.json"
    spec.write_text(json.dumps(app.openapi()))
    config = tmp_path / "config.yml"
    # No post hooks: they would run ruff from PATH, which a plain venv run may not have.
    config.write_text(
        "project_name_override: issues_client\n"
        "package_name_override: issues_client\n"
        "post_hooks: []\n"
    )
    subprocess.run(
        [
            str(GENERATOR),
            "generate",
            "--path",
            str(spec),
            "--config",
            str(config),
            "--output-path",
            str(tmp_path / "client"),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return tmp_path / "client"


def test_generated_client_methods_read_as_verbs_on_nouns(
    generated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = generated / "issues_client" / "api"
    found = {
        tag.name: {module.stem for module in tag.glob("*.py") if module.stem != "__init__"}
        for tag in api.iterdir()
        if tag.is_dir() and tag.name != "__pycache__"
    }
    assert found == EXPECTED

    monkeypatch.syspath_prepend(str(generated))
    for tag, names in EXPECTED.items():
        for name in names:
            module = importlib.import_module(f"issues_client.api.{tag}.{name}")
            assert callable(module.asyncio_detailed)
    client = importlib.import_module("issues_client").AuthenticatedClient
    assert client(base_url="http://127.0.0.1", token="t")
