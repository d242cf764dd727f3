"""Fill a store with N issues directly, before its server starts: no HTTP, no per-issue
round trips."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

from fastapi_issues.schemas import IssueOut, IssuePriority, IssueStatus

_PRIORITIES = list(IssuePriority)
_STATUSES = list(IssueStatus)
_START = datetime(2024, 1, 1, tzinfo=timezone.utc)


def make_issues(count: int, reporter: str | None = "johndoe") -> Iterator[IssueOut]:
    """`count` varied issues, created a minute apart."""
    for n in range(count):
        moment = _START + timedelta(minutes=n)
        yield IssueOut(
            id=str(uuid.uuid4()),
            title=f"Issue number {n}",
            description=f"Filled by the benchmark; issue {n} of {count}.",
            priority=_PRIORITIES[n % len(_PRIORITIES)],
            status=_STATUSES[(n // 3) % len(_STATUSES)],
            created_at=moment,
            updated_at=moment,
            reporter=reporter,
            version=1,
        )


def fill_json(path: Path, count: int) -> list[str]:
    """Write `count` issues as the JSON store writes its file; return their ids."""
    issues = list(make_issues(count))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("[\n" + ",\n".join(i.model_dump_json() for i in issues) + "\n]\n")
    return [issue.id for issue in issues]


def count_json(path: Path) -> set[str]:
    """The ids in a JSON store's file, as on disk now."""
    return {item["id"] for item in json.loads(path.read_text())}
