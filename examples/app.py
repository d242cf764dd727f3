"""The example host app: an ordinary FastAPI app that mounts fastapi-issues.

Run it with `uvicorn examples.app:app` or `fastapi dev examples/app.py`.

Settings, all from the environment:
- ISSUES_STORAGE_URL: where issues live (default `data/issues.json`; `memory://` for none).
- FASTAPI_ISSUES_CORS_ORIGINS: comma-separated origins browsers may call from
  (default `http://localhost:3000`).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from fastapi_issues import make_issue_router
from fastapi_issues.middleware import ProcessTimeMiddleware
from fastapi_issues.storage.urls import open_issue_store

DEFAULT_STORAGE_URL = "data/issues.json"
DEFAULT_CORS_ORIGINS = "http://localhost:3000"


def create_app(env: Mapping[str, str] | None = None) -> FastAPI:
    env = os.environ if env is None else env
    store = open_issue_store(env.get("ISSUES_STORAGE_URL", DEFAULT_STORAGE_URL))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        close = getattr(store, "close", None)
        if close is not None:
            close()

    app = FastAPI(
        title="Issue Tracker API",
        version="0.1.0",
        description="A mini production-style API built with FastAPI and fastapi-issues.",
        lifespan=lifespan,
    )

    @app.get("/health", tags=["Health"], summary="Liveness check")
    async def health_check() -> dict[str, str]:
        return {"status": "ok"}

    app.include_router(make_issue_router(store, prefix="/api/v1/issues"))

    # In production list only the origins of your own front ends; never "*" together with
    # credentials. Browsers may only read the headers named in expose_headers.
    origins = [
        o.strip() for o in env.get("FASTAPI_ISSUES_CORS_ORIGINS", DEFAULT_CORS_ORIGINS).split(",")
    ]
    app.add_middleware(
        CORSMiddleware,
        allow_origins=[o for o in origins if o],
        allow_credentials=True,
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        allow_headers=["Authorization", "Content-Type", "If-Match", "If-None-Match"],
        expose_headers=["Link", "X-Total-Count", "X-Process-Time", "ETag", "Location"],
    )
    # Added last so it is outermost and times everything, CORS included.
    app.add_middleware(ProcessTimeMiddleware)
    return app


app = create_app()
