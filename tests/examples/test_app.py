"""The example host app: health, timing, CORS, and the router on the configured store."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from examples.app import create_app

pytestmark = pytest.mark.anyio


def client_for(tmp_path: Path, **env: str) -> httpx.AsyncClient:
    app = create_app({"ISSUES_STORAGE_URL": str(tmp_path / "data" / "issues.json"), **env})
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def test_health_and_timing_header(tmp_path: Path) -> None:
    async with client_for(tmp_path) as client:
        response = await client.get("/health")
        assert response.json() == {"status": "ok"}
        assert re.fullmatch(r"\d+\.\d{4}s", response.headers["X-Process-Time"])


async def test_cors_allows_the_configured_origin_and_exposes_our_headers(tmp_path: Path) -> None:
    async with client_for(tmp_path, FASTAPI_ISSUES_CORS_ORIGINS="https://app.example") as client:
        preflight = await client.options(
            "/api/v1/issues",
            headers={
                "Origin": "https://app.example",
                "Access-Control-Request-Method": "PATCH",
                "Access-Control-Request-Headers": "If-Match, Authorization",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["Access-Control-Allow-Origin"] == "https://app.example"
        response = await client.get("/health", headers={"Origin": "https://app.example"})
        exposed = {
            h.strip().lower() for h in response.headers["Access-Control-Expose-Headers"].split(",")
        }
        assert {"link", "x-total-count", "x-process-time", "etag"} <= exposed
        other = await client.get("/health", headers={"Origin": "https://evil.example"})
        assert "Access-Control-Allow-Origin" not in other.headers


async def test_default_cors_origin_is_local_only(tmp_path: Path) -> None:
    async with client_for(tmp_path) as client:
        response = await client.get("/health", headers={"Origin": "https://evil.example"})
        assert "Access-Control-Allow-Origin" not in response.headers


def test_issue_routes_are_mounted_at_the_crash_course_prefix(tmp_path: Path) -> None:
    app = create_app({"ISSUES_STORAGE_URL": str(tmp_path / "issues.json")})
    paths = app.openapi()["paths"]
    assert "/api/v1/issues" in paths
    assert "/api/v1/issues/{issue_id}" in paths
    assert "/health" in paths


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_the_docs_pages_load_their_assets_from_the_app(tmp_path: Path, page: str) -> None:
    """Swagger UI and ReDoc work without internet: every script and stylesheet is ours."""
    async with client_for(tmp_path) as client:
        html = (await client.get(page)).text
        assets = re.findall(r"""(?:src|href)=["']([^"']+\.(?:js|css))["']""", html)
        assert assets, html
        for asset in assets:
            assert asset.startswith("/"), f"{page} loads {asset} from elsewhere"
            response = await client.get(asset)
            assert response.status_code == 200, asset
            assert len(response.content) > 1000, asset
        assert "cdn." not in html
