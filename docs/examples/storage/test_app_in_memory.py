import httpx
import pytest
from fastapi import FastAPI

from fastapi_issues import (
    InMemoryIssueStore,
    IssueStore,
    JSONFileIssueStore,
    make_issue_router,
)

# --8<-- [start:app]
store = JSONFileIssueStore("data/issues.json")


def get_store() -> IssueStore:
    return store


app = FastAPI()
app.include_router(make_issue_router(get_store))
# --8<-- [end:app]


# --8<-- [start:test]
@pytest.mark.anyio
async def test_create_then_list() -> None:
    memory = InMemoryIssueStore()
    app.dependency_overrides[get_store] = lambda: memory
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://test"
        ) as client:
            created = await client.post(
                "/api/v1/issues",
                json={
                    "title": "Flaky test",
                    "description": "Fails on CI only",
                },
            )
            assert created.status_code == 201
            listed = await client.get("/api/v1/issues")
            assert [issue["title"] for issue in listed.json()] == [
                "Flaky test"
            ]
    finally:
        app.dependency_overrides.clear()


# --8<-- [end:test]
