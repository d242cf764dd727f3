"""The contract suites: example-based tests of what every store must do (see
`fastapi_issues.testing` for how to use them), one module per protocol."""

from __future__ import annotations

from fastapi_issues.testing.contracts._comments import CommentStoreContract
from fastapi_issues.testing.contracts._events import EventStoreContract
from fastapi_issues.testing.contracts._hooks import HookStoreContract
from fastapi_issues.testing.contracts._issues import IssueStoreContract
from fastapi_issues.testing.contracts._labels import LabelStoreContract
from fastapi_issues.testing.contracts._tracker import TrackerStoreContract
from fastapi_issues.testing.contracts._users import UserStoreContract

__all__ = [
    "CommentStoreContract",
    "EventStoreContract",
    "HookStoreContract",
    "IssueStoreContract",
    "LabelStoreContract",
    "TrackerStoreContract",
    "UserStoreContract",
]
