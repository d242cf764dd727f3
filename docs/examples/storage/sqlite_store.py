from fastapi import FastAPI

from fastapi_issues import make_issue_router
from fastapi_issues.storage.sql import SQLIssueStore

store = SQLIssueStore("sqlite:///data/issues.db")

# Creates the tables at start-up, closes the connections at shutdown.
app = FastAPI(lifespan=store.lifespan)
app.include_router(make_issue_router(store))
