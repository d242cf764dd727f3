import os

from fastapi import FastAPI

from fastapi_issues import JSONFileIssueStore, make_issue_router
from fastapi_issues.auth import (
    AuthSettings,
    current_active_user,
    make_auth_router,
    open_user_store,
)

settings = AuthSettings.from_env(os.environ)
store = JSONFileIssueStore("data/issues.json")
users = open_user_store("data/issues.json")

app = FastAPI()
# --8<-- [start:mount]
# POST /auth/token, GET /auth/users/me
app.include_router(make_auth_router(users, settings, prefix="/auth"))
# The dependency must name the same token URL, for Swagger UI's Authorize.
login_required = current_active_user(users, settings, token_url="auth/token")
app.include_router(make_issue_router(store, auth_dependency=login_required))
# --8<-- [end:mount]
