import os

from fastapi import FastAPI

from fastapi_issues import JSONFileIssueStore, make_issue_router
from fastapi_issues.auth import (
    AuthSettings,
    current_active_user,
    make_auth_router,
    open_user_store,
)

settings = AuthSettings.from_env(os.environ)  # FASTAPI_ISSUES_SECRET_KEY
store = JSONFileIssueStore("data/issues.json")
users = open_user_store("data/issues.json")  # data/users.json, beside it

app = FastAPI(title="My app")
app.include_router(make_auth_router(users, settings))  # POST /token
app.include_router(
    make_issue_router(
        store,
        prefix="/api/v1/issues",
        auth_dependency=current_active_user(users, settings),
    )
)
