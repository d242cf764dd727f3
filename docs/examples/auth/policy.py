from typing import Annotated

from fastapi import FastAPI, Header, HTTPException

from fastapi_issues import (
    IssueAction,
    IssueOut,
    JSONFileIssueStore,
    make_issue_router,
)

ADMINS = {"ada"}


async def current_user(x_user: Annotated[str | None, Header()] = None) -> str:
    # Stands in for your real auth; only the policy below matters here.
    if not x_user:
        raise HTTPException(401, "Who are you?")
    return x_user


# --8<-- [start:policy]
def reporters_own_their_issues(
    user: str, action: IssueAction, issue: IssueOut | None
) -> bool:
    """Everyone may read and create; reporters and admins may change."""
    if action in ("read", "create") or user in ADMINS:
        return True
    return issue is not None and issue.reporter == user


app = FastAPI()
store = JSONFileIssueStore("data/issues.json")
app.include_router(
    make_issue_router(
        store, auth_dependency=current_user, policy=reporters_own_their_issues
    )
)
# --8<-- [end:policy]
