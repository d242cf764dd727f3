from typing import Annotated

from fastapi import FastAPI, Header, HTTPException

from fastapi_issues import (
    CommentAction,
    CommentOut,
    IssueAction,
    IssueOut,
    JSONFileIssueStore,
    LabelAction,
    author_only,
    make_comment_router,
    make_issue_router,
    make_label_router,
)

TEAM = {"ada", "bob", "cy"}
LEADS = {"ada"}


async def current_user(x_user: Annotated[str | None, Header()] = None) -> str:
    # Stands in for your real auth, e.g. fastapi_issues.auth.
    if x_user not in TEAM:
        raise HTTPException(401, "Who are you?")
    return x_user


async def user_exists(username: str) -> bool:
    return username in TEAM


# --8<-- [start:policies]
def reporters_and_leads(
    user: str, action: IssueAction, issue: IssueOut | None
) -> bool:
    """Everyone reads and reports; reporters and leads change issues."""
    if action in ("read", "create") or user in LEADS:
        return True
    return issue is not None and issue.reporter == user


def leads_only(user: str, action: LabelAction) -> bool:
    """Only leads create, rename and delete labels."""
    return user in LEADS


def authors_and_leads(
    user: str,
    action: CommentAction,
    issue: IssueOut,
    comment: CommentOut | None,
) -> bool:
    """No new comments on closed issues; leads may moderate."""
    if action == "create" and issue.status == "closed":
        return user in LEADS
    return user in LEADS or author_only(user, action, issue, comment)


# --8<-- [end:policies]


# --8<-- [start:mount]
store = JSONFileIssueStore("data/issues.json")
policy = reporters_and_leads

app = FastAPI(title="Team tracker")
app.include_router(
    make_issue_router(
        store, current_user, policy=policy, user_exists=user_exists
    )
)
app.include_router(
    make_label_router(
        store,
        current_user,
        policy=policy,
        label_policy=leads_only,
    )
)
app.include_router(
    make_comment_router(
        store, current_user, policy=policy, comment_policy=authors_and_leads
    )
)
# --8<-- [end:mount]
