"""Ready-made authorization policies for `make_issue_router(..., policy=...)`,
`make_label_router(..., label_policy=...)` and `make_webhook_router(..., policy=...)`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi_issues.routers._kernel import IssueAction, username
from fastapi_issues.routers.hooks import HookAction
from fastapi_issues.routers.labels import LabelAction
from fastapi_issues.schemas import IssueOut

__all__ = ["AdminsOnly", "ReporterOrAdmin"]


def _is_admin(user: Any, admins: frozenset[str]) -> bool:
    """Named in `admins`, or a user object whose `is_admin` attribute is true."""
    if bool(getattr(user, "is_admin", False)):
        return True
    name = username(user)
    return name is not None and name in admins


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
        name = username(user)
        if name is None:
            return False
        return _is_admin(user, self.admins) or (issue.reporter == name)


class AdminsOnly:
    """A label or webhook policy: only admins may create, rename or delete labels, and only
    admins may do anything with webhooks.

    Admins are named as for `ReporterOrAdmin`; give both the same names. Everyone who may use
    the label router still reads labels, and puts them on the issues they may edit.
    """

    def __init__(self, admins: Iterable[str] = ()) -> None:
        self.admins = frozenset(admins)

    def __call__(self, user: Any, action: LabelAction | HookAction) -> bool:
        return _is_admin(user, self.admins)
