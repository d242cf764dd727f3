"""The three contracts of a store with issues, labels and comments, in one suite."""

from __future__ import annotations

from fastapi_issues.testing.contracts._comments import CommentStoreContract
from fastapi_issues.testing.contracts._issues import IssueStoreContract
from fastapi_issues.testing.contracts._labels import LabelStoreContract

__all__ = ["TrackerStoreContract"]


class TrackerStoreContract(IssueStoreContract, LabelStoreContract, CommentStoreContract):
    """All three contracts, for a store with issues, labels and comments."""
