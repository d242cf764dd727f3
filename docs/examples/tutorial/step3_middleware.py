from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from fastapi_issues import JSONFileIssueStore, make_issue_router
from fastapi_issues.middleware import ProcessTimeMiddleware

app = FastAPI(
    title="Issue Tracker API",
    version="0.1.0",
    description="A mini production-style API built with FastAPI",
)


@app.get("/health")
def health_check() -> dict[str, str]:
    return {"status": "ok"}


store = JSONFileIssueStore("data/issues.json")
router = make_issue_router(store, prefix="/api/v1/issues", tags=["Issues"])
app.include_router(router)

# --8<-- [start:middleware]
app.add_middleware(
    CORSMiddleware,
    # Your front end's origin; never "*" in production.
    allow_origins=["http://localhost:3000"],
    allow_credentials=True,
    allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
    allow_headers=[
        "Authorization", "Content-Type", "If-Match", "If-None-Match",
    ],
    # Browser code may read only the response headers listed here.
    expose_headers=["Link", "X-Total-Count", "ETag", "Location"],
)
# Added last, so it is outermost and times everything, CORS included.
app.add_middleware(ProcessTimeMiddleware)
# --8<-- [end:middleware]
