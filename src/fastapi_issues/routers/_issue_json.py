"""Issues as JSON responses, encoded once and reused while the issue stays the same."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import Response

from fastapi_issues.routers._etags import issue_etag
from fastapi_issues.schemas import IssueOut

__all__ = ["EncodedIssues", "encoded_issues", "issue_response"]

_ISSUE_SERIALIZER = IssueOut.__pydantic_serializer__


class EncodedIssues:
    """The JSON of issues recently sent, by the identity of the (frozen) model.

    The JSON-file and in-memory stores hand out the same model until the issue changes, so a
    page read again is mostly joined from bytes already encoded: the profile of `GET` a page
    showed encoding as its largest single cost. Stores that build new models per read only
    miss; the bound keeps what they leave behind small.
    """

    __slots__ = ("_entries", "_size")

    def __init__(self, size: int) -> None:
        self._entries: dict[int, tuple[IssueOut, bytes]] = {}
        self._size = size

    def one(self, issue: IssueOut) -> bytes:
        """The JSON of one issue."""
        entry = self._entries.get(id(issue))
        if entry is not None and entry[0] is issue:
            return entry[1]
        encoded = _ISSUE_SERIALIZER.to_json(issue)
        if len(self._entries) >= self._size:
            self._entries.clear()
        # The entry holds the model, so its id cannot be reused while the entry lives.
        self._entries[id(issue)] = (issue, encoded)
        return encoded

    def many(self, issues: Sequence[IssueOut]) -> bytes:
        """The JSON array of `issues`."""
        return b"[" + b",".join([self.one(issue) for issue in issues]) + b"]"


encoded_issues = EncodedIssues(size=1024)
"""The one cache every router encodes issues through."""


def issue_response(issue: IssueOut) -> Response:
    """The issue as a JSON response with its `ETag`."""
    return Response(
        content=encoded_issues.one(issue),
        media_type="application/json",
        headers={"ETag": issue_etag(issue)},
    )
