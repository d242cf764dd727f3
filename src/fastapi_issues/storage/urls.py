"""Open a store from one URL-like setting, so a deployment picks its store with an env var."""

from __future__ import annotations

from fastapi_issues.storage.base import IssueStore
from fastapi_issues.storage.json_file import JSONFileIssueStore
from fastapi_issues.storage.memory import InMemoryIssueStore

__all__ = ["open_issue_store"]


def open_issue_store(url: str) -> IssueStore:
    """The issue store that `url` names.

    - `memory://`: an `InMemoryIssueStore` (nothing is kept);
    - `json:///path/issues.json`, or a plain path: a `JSONFileIssueStore`.
    """
    if url == "memory://":
        return InMemoryIssueStore()
    if url.startswith("json://"):
        return JSONFileIssueStore(url.removeprefix("json://"))
    if "://" in url:
        scheme = url.split("://", 1)[0]
        raise ValueError(f"unsupported issue store URL scheme {scheme!r} in {url!r}")
    return JSONFileIssueStore(url)
