import secrets
from typing import Annotated

from fastapi import FastAPI, HTTPException, Security, status
from fastapi.security import APIKeyHeader

from fastapi_issues import JSONFileIssueStore, make_issue_router

# Whose key is which. Load them from your secret store, not the source.
API_KEYS = {"ada": "ada-key-change-me", "ci-bot": "ci-bot-key-change-me"}

api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False)


async def current_user(
    key: Annotated[str | None, Security(api_key_header)],
) -> str:
    for username, known in API_KEYS.items():
        if key is not None and secrets.compare_digest(key, known):
            return username  # a plain string becomes the issue's reporter
    raise HTTPException(
        status.HTTP_401_UNAUTHORIZED, "Missing or unknown API key"
    )


app = FastAPI()
store = JSONFileIssueStore("data/issues.json")
app.include_router(make_issue_router(store, auth_dependency=current_user))
