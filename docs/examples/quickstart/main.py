from fastapi import FastAPI

from fastapi_issues import make_issue_router, open_issue_store, open_user_store
from fastapi_issues.auth import (
    AuthEnvSettings,
    current_active_user,
    make_auth_router,
)

STORAGE_URL = "data/issues.json"  # one URL for issues and users
store = open_issue_store(STORAGE_URL)
users = open_user_store(STORAGE_URL)  # data/users.json, beside the issues
settings = AuthEnvSettings().auth_settings()  # the environment, or .env

app = FastAPI(title="My app")
app.include_router(make_auth_router(users, settings))  # POST /token
app.include_router(
    make_issue_router(
        store,
        prefix="/api/v1/issues",
        auth_dependency=current_active_user(users, settings),
    )
)
