"""Entity tags: what `ETag` says about an issue or a comment, and what `If-Match` and
`If-None-Match` ask."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from fastapi import HTTPException, Request, status

from fastapi_issues.schemas import CommentOut, IssueOut

__all__ = [
    "IfMatch",
    "comment_etag",
    "if_match",
    "issue_etag",
    "matches_weakly",
]

# One element of an RFC 9110 list of entity tags (section 8.8.3): optional `W/`, then a
# quoted opaque tag of visible ASCII but `"`, or obs-text (Starlette decodes headers as
# Latin-1, so obs-text arrives as U+0080-U+00FF), then a comma or the end. Empty elements
# are allowed, as section 5.6.1 asks of every list.
_ELEMENT = re.compile(r'[ \t]*(?:(W/)?"([\x21\x23-\x7e\x80-\xff]*)")?[ \t]*(?:,|\Z)')
_OUR_TAG = re.compile(r"v([0-9]{1,18})(?:-[0-9a-f]+)?")
_VALID = (
    'If-Match must be "*" or a comma-separated list of quoted entity tags, such as "v3" '
    "(the ETag header as received, quotes included)"
)
_WEAK = (
    'If-Match compares strongly (RFC 9110 13.1.1): a weak tag (W/"...") never matches; '
    "send the ETag header as received"
)


@dataclass(frozen=True)
class IfMatch:
    """A parsed `If-Match`: any version (`*`), or the versions its strong tags name."""

    any: bool
    versions: frozenset[int]
    weak_only: bool

    def expected_version(self, current: int, changed: str) -> int | None:
        """The version a write must find; None when any will do.

        A header naming other versions than `current` gets 412 at once, with `changed`
        (or a note that weak tags never match, when it named only those).
        """
        if self.any:
            return None
        if current not in self.versions:
            detail = _WEAK if self.weak_only else changed
            raise HTTPException(status.HTTP_412_PRECONDITION_FAILED, detail)
        # The store re-checks this version atomically with the write.
        return current


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


def if_match(request: Request) -> IfMatch | None:
    """The request's `If-Match`, parsed; None without one. Malformed gets 400.

    Several `If-Match` fields make one list (RFC 9110 5.3). `*` stands alone. A weak tag is
    well-formed but never matches (strong comparison); a well-formed tag that is not one of
    ours names no version, so it matches nothing either.
    """
    fields = request.headers.getlist("if-match")
    if not fields:
        return None
    header = ", ".join(fields)
    if header.strip() == "*":
        return IfMatch(any=True, versions=frozenset(), weak_only=False)
    tags = _entity_tags(header)
    versions = {
        int(found.group(1))
        for weak, opaque in tags
        if not weak and (found := _OUR_TAG.fullmatch(opaque)) is not None
    }
    weak_only = all(weak for weak, _ in tags)
    return IfMatch(any=False, versions=frozenset(versions), weak_only=weak_only)


def matches_weakly(header: str, etag: str) -> bool:
    """Whether an If-None-Match header names `etag`, weakly compared, or is `*`."""
    tags = {t.strip().removeprefix("W/") for t in header.split(",")}
    return "*" in tags or etag in tags


def _entity_tags(header: str) -> list[tuple[bool, str]]:
    """The (weak, opaque-tag) pairs of a list of entity tags; 400 unless it is one."""
    tags: list[tuple[bool, str]] = []
    position = 0
    while position < len(header):
        element = _ELEMENT.match(header, position)
        if element is None:
            raise _malformed(header)
        if element.group(2) is not None:
            tags.append((element.group(1) is not None, element.group(2)))
        position = element.end()
    if not tags:
        raise _malformed(header)
    return tags


def _malformed(header: str) -> HTTPException:
    shown = header if len(header) <= 60 else header[:57] + "..."
    return HTTPException(status.HTTP_400_BAD_REQUEST, f"{_VALID}; got {shown!r}")
