from fastapi import FastAPI

from fastapi_issues import (
    JSONFileIssueStore,
    make_comment_router,
    make_issue_router,
    make_label_router,
)

# One store for all three: labels.json and comments.json go beside it.
store = JSONFileIssueStore("data/issues.json")
app = FastAPI(title="Team tracker")
app.include_router(make_issue_router(store))
app.include_router(make_label_router(store))
app.include_router(make_comment_router(store))
