import os

from fastapi import FastAPI

from fastapi_issues import (
    JSONFileIssueStore,
    ReporterOrAdmin,
    make_event_router,
    make_issue_router,
)
from fastapi_issues.auth import (
    AuthSettings,
    current_active_user,
    make_auth_router,
    open_user_store,
    websocket_user,
)

settings = AuthSettings.from_env(os.environ)
store = JSONFileIssueStore("data/issues.json")
users = open_user_store("data/issues.json")
login_required = current_active_user(users, settings)
policy = ReporterOrAdmin(admins={"ada"})

app = FastAPI()
app.include_router(make_auth_router(users, settings))  # POST /token
app.include_router(
    make_issue_router(store, auth_dependency=login_required, policy=policy)
)
# The same auth and policy: an event is shown to whoever may read its issue.
app.include_router(
    make_event_router(
        store,
        auth_dependency=login_required,
        policy=policy,
        # A WebSocket's token comes in its first message; this checks it.
        websocket_user=websocket_user(users, settings),
    )
)
