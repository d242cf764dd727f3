"""How usernames are compared: apart from `fastapi_issues.auth`, since the SQL stores
teach it to SQLite without needing the `auth` extra."""

from __future__ import annotations

import unicodedata
from functools import lru_cache

__all__ = ["normalize_username"]


@lru_cache(maxsize=65_536)
def normalize_username(username: str) -> str:
    """The form usernames are compared in: NFKC, case-folded (then NFKC again, since
    folding can undo the normalisation). `Alice`, `ALICE` and a full-width `alice` all
    become `alice`. The display form stays as the user gave it.

    Cached: the stores compare every stored name this way, and names rarely change.
    """
    folded = unicodedata.normalize("NFKC", username).casefold()
    return unicodedata.normalize("NFKC", folded)
