from fastapi import FastAPI

from fastapi_issues import JSONFileIssueStore, make_issue_router

app = FastAPI(title="My product")

# Issues live in data/issues.json: atomic, durable, safe across workers.
store = JSONFileIssueStore("data/issues.json")
app.include_router(make_issue_router(store, prefix="/api/v1/issues"))
