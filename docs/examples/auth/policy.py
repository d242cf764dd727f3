from typing import Annotated

from fastapi import FastAPI, Header, HTTPException

from fastapi_issues import (
    IssueAction,
    IssueOut,
    IssueStatus,
    JSONFileIssueStore,
    ReporterOrAdmin,
    make_issue_router,
)


async def current_user(x_user: Annotated[str | None, Header()] = None) -> str:
    # Stands in for your real auth; only the policies below matter here.
    if not x_user:
        raise HTTPException(401, "Who are you?")
    return x_user


# --8<-- [start:ready-made]
ADMINS = {"ada"}
reporter_or_admin = ReporterOrAdmin(admins=ADMINS)
# --8<-- [end:ready-made]


# --8<-- [start:own]
def closed_issues_are_frozen(
    user: str, action: IssueAction, issue: IssueOut | None
) -> bool:
    """ReporterOrAdmin, and once closed, only an admin may change an issue."""
    closed = issue is not None and issue.status is IssueStatus.closed
    if closed and action in ("update", "delete") and user not in ADMINS:
        return False
    return reporter_or_admin(user, action, issue)


app = FastAPI()
store = JSONFileIssueStore("data/issues.json")
app.include_router(
    make_issue_router(
        store, auth_dependency=current_user, policy=closed_issues_are_frozen
    )
)
# --8<-- [end:own]
