"""Entity tags: what `ETag` says about an issue or a comment, and what `If-Match` and
`If-None-Match` ask."""

from __future__ import annotations

import hashlib

from fastapi import HTTPException, Request, status

from fastapi_issues.schemas import CommentOut, IssueOut

__all__ = ["comment_etag", "etag_versions", "if_match_version", "issue_etag", "matches_weakly"]


def issue_etag(issue: IssueOut) -> str:
    """The issue's `ETag`: its version, and a digest of what changes without it."""
    # Label renames and comments change what an issue looks like without changing its
    # version, so they get a say in the tag; If-Match still compares versions only.
    if not issue.labels and not issue.comment_count:
        return f'"v{issue.version}"'
    seen = "\n".join([*issue.labels, str(issue.comment_count)]).encode()
    return f'"v{issue.version}-{hashlib.blake2b(seen, digest_size=4).hexdigest()}"'


def comment_etag(comment: CommentOut) -> str:
    """The comment's `ETag`: its version."""
    return f'"v{comment.version}"'


def etag_versions(header: str) -> set[int] | None:
    """Versions named by an If-Match header; None means `*` (any version)."""
    versions: set[int] = set()
    for raw in header.split(","):
        tag = raw.strip()
        if tag == "*":
            return None
        # If-Match compares strongly (RFC 9110 13.1.1): a weak tag never matches.
        if tag.startswith('"v') and tag.endswith('"'):
            version = tag[2:-1].split("-", 1)[0]
            if version.isdigit():
                versions.add(int(version))
    return versions


def matches_weakly(header: str, etag: str) -> bool:
    """Whether an If-None-Match header names `etag`, weakly compared, or is `*`."""
    tags = {t.strip().removeprefix("W/") for t in header.split(",")}
    return "*" in tags or etag in tags


def if_match_version(request: Request, current: int, changed: str) -> int | None:
    """The version a write must find, from `If-Match`; None when any will do.

    A header naming other versions than `current` gets 412 with `changed` at once.
    """
    header = request.headers.get("if-match")
    if header is None:
        return None
    versions = etag_versions(header)
    if versions is None:
        return None
    if current not in versions:
        raise HTTPException(status.HTTP_412_PRECONDITION_FAILED, changed)
    # The store re-checks this version atomically with the write.
    return current
