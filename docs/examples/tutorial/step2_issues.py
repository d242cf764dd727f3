from fastapi import FastAPI

from fastapi_issues import JSONFileIssueStore, make_issue_router

app = FastAPI(
    title="Issue Tracker API",
    version="0.1.0",
    description="A mini production-style API built with FastAPI",
)


@app.get("/health")
def health_check() -> dict[str, str]:
    return {"status": "ok"}


# --8<-- [start:mount]
store = JSONFileIssueStore("data/issues.json")
router = make_issue_router(store, prefix="/api/v1/issues", tags=["Issues"])
app.include_router(router)
# --8<-- [end:mount]
