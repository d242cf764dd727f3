# --8<-- [start:imports]
import os

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from fastapi_issues import JSONFileIssueStore, make_issue_router
from fastapi_issues.auth import (
    AuthSettings,
    current_active_user,
    make_auth_router,
    open_user_store,
)
from fastapi_issues.middleware import ProcessTimeMiddleware

# --8<-- [end:imports]

app = FastAPI(
    title="Issue Tracker API",
    version="0.1.0",
    description="A mini production-style API built with FastAPI",
)


@app.get("/health")
def health_check() -> dict[str, str]:
    return {"status": "ok"}


# --8<-- [start:auth]
settings = AuthSettings.from_env(os.environ)
users = open_user_store("data/issues.json")
app.include_router(make_auth_router(users, settings))

store = JSONFileIssueStore("data/issues.json")
router = make_issue_router(
    store,
    prefix="/api/v1/issues",
    tags=["Issues"],
    auth_dependency=current_active_user(users, settings),
)
app.include_router(router)
# --8<-- [end:auth]

app.add_middleware(
    CORSMiddleware,
    allow_origins=["http://localhost:3000"],
    allow_credentials=True,
    allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
    allow_headers=[
        "Authorization", "Content-Type", "If-Match", "If-None-Match",
    ],
    expose_headers=["Link", "X-Total-Count", "ETag", "Location"],
)
app.add_middleware(ProcessTimeMiddleware)
