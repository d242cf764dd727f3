from fastapi import FastAPI

from fastapi_issues import (
    JSONFileIssueStore,
    make_event_router,
    make_issue_router,
)

store = JSONFileIssueStore("data/issues.json")
app = FastAPI(title="Live tracker")
app.include_router(make_issue_router(store))
# The same store: every change it makes is in its event log, written
# with the change. This adds the timeline, the feed, SSE and WebSocket.
app.include_router(make_event_router(store))
