"""Ready-made authorization policies for `make_issue_router(..., policy=...)`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi_issues.router import IssueAction, _username
from fastapi_issues.schemas import IssueOut

__all__ = ["ReporterOrAdmin"]


class ReporterOrAdmin:
    """Anyone signed in may list, read and create; only an issue's reporter or an admin may
    update or delete it.

    Admins are the usernames given, and any user object whose `is_admin` attribute is true.
    Issues without a reporter (made while auth was off) can be changed by admins only.
    """

    def __init__(self, admins: Iterable[str] = ()) -> None:
        self.admins = frozenset(admins)

    def __call__(self, user: Any, action: IssueAction, issue: IssueOut | None) -> bool:
        if action in ("create", "read") or issue is None:
            return True
        name = _username(user)
        if name is None:
            return False
        return (
            name in self.admins
            or bool(getattr(user, "is_admin", False))
            or (issue.reporter == name)
        )
